import {
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Link, useActionData } from "@remix-run/react";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formErrorWithValues, parseForm } from "~/admin/forms.server";
import { topicInputFromForm } from "~/admin/topic-form.server";
import { AdminErrorBoundary, buttonClass, Notice, PageHeader } from "~/admin/ui/components";
import { TopicForm } from "~/admin/ui/topic-form";
import { getDb } from "~/db/db.server";
import { createTopic, NewTopicSchema, TopicError } from "~/topics/topics.server";

export const meta: MetaFunction = () => [{ title: "New topic · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  return null;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const input = topicInputFromForm(formData);
  const parsed = parseForm(NewTopicSchema, input);
  const fail = (message: string, fieldErrors: Record<string, string>) =>
    formErrorWithValues(message, fieldErrors, input);
  if (!parsed.ok) return fail(parsed.message, parsed.fieldErrors);
  try {
    const topic = await createTopic(getDb(), parsed.data, operator(user, request, context));
    return redirect(`/admin/topics?${new URLSearchParams({ notice: "created", key: topic.key })}`);
  } catch (e) {
    if (e instanceof TopicError) return fail(e.message, { key: e.message });
    throw e;
  }
}

export default function NewTopic() {
  const actionData = useActionData<typeof action>();
  return (
    <div>
      <p className="mb-2 text-sm">
        <Link className={buttonClass.link} to="/admin/topics">
          ← Topics
        </Link>
      </p>
      <PageHeader title="New topic" />
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
