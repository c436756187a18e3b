import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formErrorWithValues, parseForm } from "~/admin/forms.server";
import { topicInputFromForm } from "~/admin/topic-form.server";
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

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.topic.names.en ?? "Topic"} · Heed admin` },
];

async function load(key: string | undefined) {
  const topic = key ? await getTopic(getDb(), key) : null;
  if (!topic) throw new Response("There is no such topic.", { status: 404 });
  return topic;
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const topic = await load(params.key);
  return json({ topic }, { headers: NO_STORE });
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const topic = await load(params.key);
  const by = operator(user, request, context);
  const intent = formData.get("intent");
  if (intent === "archive" || intent === "unarchive") {
    await setTopicArchived(getDb(), topic.key, intent === "archive", by);
    return json({
      ok: true as const,
      message: intent === "archive" ? "Topic archived." : "Topic restored.",
    });
  }
  const input = topicInputFromForm(formData);
  const parsed = parseForm(TopicFieldsSchema, input);
  if (!parsed.ok) {
    return formErrorWithValues(parsed.message, parsed.fieldErrors, input);
  }
  await updateTopic(getDb(), topic.key, parsed.data, by);
  return json({ ok: true as const, message: "Topic saved." });
}

export default function EditTopic() {
  const { topic } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failed = actionData && !actionData.ok ? actionData : null;
  return (
    <div>
      <p className="mb-2 text-sm">
        <Link className={buttonClass.link} to="/admin/topics">
          ← Topics
        </Link>
      </p>
      <PageHeader title={topic.names.en ?? topic.key} description={`Key: ${topic.key}`}>
        <StatusBadge status={topic.archivedAt ? "archived" : "active"} />
      </PageHeader>
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {failed ? <Notice kind="error">{failed.message}</Notice> : null}
      <Section title="Edit" id="edit">
        <TopicForm
          key={topic.updatedAt}
          mode="edit"
          values={failed?.values ?? topic}
          errors={failed?.fieldErrors ?? {}}
        />
      </Section>
      <Section title={topic.archivedAt ? "Archived" : "Archive"} id="archive">
        {topic.archivedAt ? (
          <p className="mb-3 text-sm text-slate-700">
            Archived on <Time value={topic.archivedAt} />. It is not shown on preference pages;
            recorded choices and history are kept.
          </p>
        ) : (
          <p className="mb-3 text-sm text-slate-700">
            Archiving hides the topic from preference pages. Recorded choices and history are kept,
            and it can be restored.
          </p>
        )}
        <Form method="post">
          <CsrfInput />
          <input type="hidden" name="intent" value={topic.archivedAt ? "unarchive" : "archive"} />
          <button type="submit" className={buttonClass.secondary}>
            {topic.archivedAt ? "Restore topic" : "Archive topic"}
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
