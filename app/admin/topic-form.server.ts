import { checked, localizedFields, text } from "~/admin/forms.server";
import { LOCALES } from "~/i18n/config";

/** The topic form's fields as the shape TopicFieldsSchema / NewTopicSchema validate. */
export function topicInputFromForm(formData: FormData) {
  const position = text(formData, "position").trim();
  return {
    key: text(formData, "key"),
    names: localizedFields(formData, "names", LOCALES),
    descriptions: localizedFields(formData, "descriptions", LOCALES),
    channels: formData.getAll("channels").filter((v): v is string => typeof v === "string"),
    defaultOptIn: checked(formData, "defaultOptIn"),
    position: position === "" ? 0 : Number(position),
  };
}
