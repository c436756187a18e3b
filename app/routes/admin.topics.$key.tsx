import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formErrorWithValues, parseForm } from "~/admin/forms.server";
import { localizeFailure } from "~/admin/messages.server";
import { adminName } from "~/admin/ns-title";
import { TOPIC_MESSAGES, topicInputFromForm } from "~/admin/topic-form.server";
import {
  AdminErrorBoundary,
  buttonClass,
  Notice,
  PageHeader,
  Section,
  StatusBadge,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { TopicForm } from "~/admin/ui/topic-form";
import { getDb } from "~/db/db.server";
import { getTopic, setTopicArchived, TopicFieldsSchema, updateTopic } from "~/topics/topics.server";
import { NO_STORE } from "~/http/headers";
import type { Locale } from "~/i18n/config";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  {
    title: `${data ? (data.topic.names[data.i18n.locale] ?? data.topic.names.en ?? data.topic.key) : "Topic"} · ${adminName(matches)}`,
  },
];

async function load(key: string | undefined, locale: Locale) {
  const topic = key ? await getTopic(getDb(), key) : null;
  if (!topic) {
    throw new Response(getFixedT(locale, "settings")("topics.not_found"), { status: 404 });
  }
  return topic;
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const locale = negotiateLocale(request);
  const topic = await load(params.key, locale);
  return json({ topic, i18n: i18nPayload(locale, ["settings"]) }, { headers: NO_STORE });
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "settings");
  const topic = await load(params.key, locale);
  const by = operator(user, request, context);
  const intent = formData.get("intent");
  if (intent === "archive" || intent === "unarchive") {
    await setTopicArchived(getDb(), topic.key, intent === "archive", by);
    return json({
      ok: true as const,
      message: intent === "archive" ? t("topics.archived_notice") : t("topics.restored_notice"),
    });
  }
  const input = topicInputFromForm(formData);
  const parsed = parseForm(TopicFieldsSchema, input);
  if (!parsed.ok) {
    const failure = localizeFailure(t, parsed, TOPIC_MESSAGES, {
      position: "topics.errors.position",
    });
    return formErrorWithValues(failure.message, failure.fieldErrors, input);
  }
  await updateTopic(getDb(), topic.key, parsed.data, by);
  return json({ ok: true as const, message: t("topics.saved") });
}

export default function EditTopic() {
  const { topic } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failed = actionData && !actionData.ok ? actionData : null;
  const t = useT("settings");
  const locale = useLocale();
  return (
    <div>
      <p className="mb-2 text-sm">
        <Link className={buttonClass.link} to="/admin/topics">
          ← {t("topics.title")}
        </Link>
      </p>
      <PageHeader
        title={topic.names[locale] ?? topic.names.en ?? topic.key}
        description={t("topics.key_is", { key: topic.key })}
      >
        <StatusBadge status={topic.archivedAt ? "archived" : "active"} />
      </PageHeader>
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {failed ? <Notice kind="error">{failed.message}</Notice> : null}
      <Section title={t("topics.edit")} id="edit">
        <TopicForm
          key={topic.updatedAt}
          mode="edit"
          values={failed?.values ?? topic}
          errors={failed?.fieldErrors ?? {}}
        />
      </Section>
      <Section title={topic.archivedAt ? t("topics.archived") : t("topics.archive")} id="archive">
        {topic.archivedAt ? (
          <p className="mb-3 text-sm text-slate-700">
            {t("topics.archived_on")} <Time value={topic.archivedAt} />. {t("topics.archived_hint")}
          </p>
        ) : (
          <p className="mb-3 text-sm text-slate-700">{t("topics.archive_hint")}</p>
        )}
        <Form method="post">
          <CsrfInput />
          <input type="hidden" name="intent" value={topic.archivedAt ? "unarchive" : "archive"} />
          <button type="submit" className={buttonClass.secondary}>
            {topic.archivedAt ? t("topics.restore_button") : t("topics.archive_button")}
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
