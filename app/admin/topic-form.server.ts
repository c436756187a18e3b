import { checked, localizedFields, text } from "~/admin/forms.server";
import type { MessageTable } from "~/admin/messages.server";
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

/** TopicFieldsSchema's / NewTopicSchema's English messages → `settings` keys (the topic pages). */
export const TOPIC_MESSAGES: MessageTable = {
  "The English name is required.": "topics.errors.name_en",
  "Pick at least one channel.": "topics.errors.channels",
  "Use lower-case letters, digits, - and _ (up to 64), starting with a letter or digit.":
    "topics.errors.key",
};
