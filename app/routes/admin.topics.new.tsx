import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Link, useActionData } from "@remix-run/react";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formErrorWithValues, parseForm } from "~/admin/forms.server";
import { localizeFailure } from "~/admin/messages.server";
import { nsTitle } from "~/admin/ns-title";
import { TOPIC_MESSAGES, topicInputFromForm } from "~/admin/topic-form.server";
import { AdminErrorBoundary, buttonClass, Notice, PageHeader } from "~/admin/ui/components";
import { TopicForm } from "~/admin/ui/topic-form";
import { getDb } from "~/db/db.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { createTopic, NewTopicSchema, TopicError } from "~/topics/topics.server";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: nsTitle(data, matches, "settings", "topics.new", "New topic") },
];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  return json({ i18n: i18nPayload(negotiateLocale(request), ["settings"]) });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const t = getFixedT(negotiateLocale(request), "settings");
  const input = topicInputFromForm(formData);
  const parsed = parseForm(NewTopicSchema, input);
  const fail = (message: string, fieldErrors: Record<string, string>) =>
    formErrorWithValues(message, fieldErrors, input);
  if (!parsed.ok) {
    const failure = localizeFailure(t, parsed, TOPIC_MESSAGES, {
      position: "topics.errors.position",
    });
    return fail(failure.message, failure.fieldErrors);
  }
  try {
    const topic = await createTopic(getDb(), parsed.data, operator(user, request, context));
    return redirect(`/admin/topics?${new URLSearchParams({ notice: "created", key: topic.key })}`);
  } catch (e) {
    if (e instanceof TopicError) {
      const message =
        e.code === "exists" ? t("topics.errors.exists", { key: parsed.data.key }) : e.message;
      return fail(message, { key: message });
    }
    throw e;
  }
}

export default function NewTopic() {
  const actionData = useActionData<typeof action>();
  const t = useT("settings");
  return (
    <div>
      <p className="mb-2 text-sm">
        <Link className={buttonClass.link} to="/admin/topics">
          ← {t("topics.title")}
        </Link>
      </p>
      <PageHeader title={t("topics.new")} />
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
      <TopicForm
        mode="create"
        values={
          actionData?.values ?? {
            names: {},
            descriptions: {},
            channels: ["email"],
            defaultOptIn: true,
            position: 0,
          }
        }
        errors={actionData && !actionData.ok ? actionData.fieldErrors : {}}
      />
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
