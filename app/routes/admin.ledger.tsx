import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formError, text } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  Notice,
  PageHeader,
  Section,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { ledgerOverview, sealLedgerCheckpoint } from "~/consent/chain.server";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Consent ledger · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  return json(await ledgerOverview(getDb()), { headers: NO_STORE });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  if (text(formData, "intent") !== "checkpoint") return formError("Unknown action.");
  const cp = await sealLedgerCheckpoint(getDb(), operator(user, request, context));
  return json({
    ok: true as const,
    message: cp
      ? `Checkpoint ${cp.id} sealed ${cp.rows} rows.`
      : "Nothing new to seal: every finished change is in a checkpoint.",
  });
}

const PROBLEM_TEXT: Record<string, string> = {
  row_hash: "its content no longer matches its hash (edited)",
  link: "it does not follow the previous row of its chain (a row before it was deleted, edited or moved)",
  evidence: "its personal data was changed, and not by an erasure",
  checkpoint: "the rows this checkpoint sealed were changed, added or deleted",
};

export default function Ledger() {
  const { report, checkpoints } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  return (
    <div>
      <PageHeader
        title="Consent ledger"
        description="Every consent change is chained to the previous change of the same address by a SHA-256 hash, and checkpoints seal all rows every 15 minutes, so an edited, deleted or reordered row is detected. Erasure keeps the chain verifiable."
      />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
      <Section title="Verification" id="verification">
        {report.ok ? (
          <Notice kind="success">
            The ledger verifies: {report.rows.toLocaleString("en")} rows in{" "}
            {report.chains.toLocaleString("en")} chains.
          </Notice>
        ) : (
          <Notice kind="error">
            The ledger does not verify: {report.problemCount.toLocaleString("en")} problems.
          </Notice>
        )}
        <dl className="mt-3 grid max-w-xl grid-cols-[1fr_auto] gap-x-6 gap-y-1 text-sm">
          <dt className="text-slate-600">Rows</dt>
          <dd>{report.rows.toLocaleString("en")}</dd>
          <dt className="text-slate-600">Chains (addresses)</dt>
          <dd>{report.chains.toLocaleString("en")}</dd>
          <dt className="text-slate-600">Rows with erased personal data</dt>
          <dd>{report.redacted.toLocaleString("en")}</dd>
          <dt className="text-slate-600">Checkpoints</dt>
          <dd>{report.checkpoints.toLocaleString("en")}</dd>
          <dt className="text-slate-600">Rows since the last checkpoint</dt>
          <dd>{report.uncheckpointed.toLocaleString("en")}</dd>
          <dt className="text-slate-600">Checked</dt>
          <dd>
            <Time value={report.checkedAt} /> ({report.durationMs} ms)
          </dd>
        </dl>
        {report.problems.length > 0 ? (
          <ul className="mt-3 list-disc space-y-1 pl-5 text-sm">
            {report.problems.map((p) => (
              <li key={`${p.problem}-${p.id}`}>
                {p.problem === "checkpoint" ? `Checkpoint ${p.id}` : `Row ${p.id}`}:{" "}
                {PROBLEM_TEXT[p.problem]}
              </li>
            ))}
          </ul>
        ) : null}
        <p className="mt-3 text-sm text-slate-600">
          The same check runs from the command line: <code>npm run ledger:verify</code>.
        </p>
      </Section>
      <Section
        title="Checkpoints"
        id="checkpoints"
        actions={
          <Form method="post">
            <CsrfInput />
            <input type="hidden" name="intent" value="checkpoint" />
            <button type="submit" className={buttonClass.secondary}>
              Seal a checkpoint now
            </button>
          </Form>
        }
      >
        <p className="text-sm text-slate-600">
          Keep a copy of the latest digest outside Heed (a ticket, an email to your DPO): anyone who
          later rewrote the ledger could not make it match.
        </p>
        {checkpoints.length === 0 ? (
          <p className="mt-2 text-sm">No checkpoint yet.</p>
        ) : (
          <div className="mt-2 overflow-x-auto">
            <table className="min-w-full text-left text-sm">
              <thead>
                <tr className="border-b border-slate-200">
                  <th className="py-2 pr-4">#</th>
                  <th className="py-2 pr-4">Sealed</th>
                  <th className="py-2 pr-4">Rows</th>
                  <th className="py-2 pr-4">Up to row</th>
                  <th className="py-2 pr-4">Digest (SHA-256)</th>
                </tr>
              </thead>
              <tbody>
                {checkpoints.map((c) => (
                  <tr key={c.id} className="border-b border-slate-100">
                    <td className="py-2 pr-4">{c.id}</td>
                    <td className="py-2 pr-4">
                      <Time value={c.createdAt} />
                    </td>
                    <td className="py-2 pr-4">{c.rowCount.toLocaleString("en")}</td>
                    <td className="py-2 pr-4">{c.lastLedgerId ?? "—"}</td>
                    <td className="py-2 pr-4 font-mono text-xs break-all">{c.digest}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
