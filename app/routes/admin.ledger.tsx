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
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: adminPageTitle(matches, data?.title ?? "Consent ledger") },
];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const locale = negotiateLocale(request);
  return json(
    {
      ...(await ledgerOverview(getDb())),
      i18n: i18nPayload(locale, ["audit"]),
      title: getFixedT(locale, "audit")("ledger.title"),
    },
    { headers: NO_STORE },
  );
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const t = getFixedT(negotiateLocale(request), "audit");
  if (text(formData, "intent") !== "checkpoint") return formError(t("ledger.unknown_action"));
  const cp = await sealLedgerCheckpoint(getDb(), operator(user, request, context));
  return json({
    ok: true as const,
    message: cp ? t("ledger.sealed", { id: cp.id, rows: cp.rows }) : t("ledger.nothing_to_seal"),
  });
}

export default function Ledger() {
  const { report, checkpoints } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const t = useT("audit");
  const locale = useLocale();
  const n = (x: number) => x.toLocaleString(locale);
  return (
    <div>
      <PageHeader title={t("ledger.title")} description={t("ledger.description")} />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
      <Section title={t("ledger.verification")} id="verification">
        {report.ok ? (
          <Notice kind="success">
            {t("ledger.verifies", { rows: n(report.rows), chains: n(report.chains) })}
          </Notice>
        ) : (
          <Notice kind="error">
            {t("ledger.does_not_verify", { problems: n(report.problemCount) })}
          </Notice>
        )}
        <dl className="mt-3 grid max-w-xl grid-cols-[1fr_auto] gap-x-6 gap-y-1 text-sm">
          <dt className="text-slate-600">{t("ledger.rows")}</dt>
          <dd>{n(report.rows)}</dd>
          <dt className="text-slate-600">{t("ledger.chains")}</dt>
          <dd>{n(report.chains)}</dd>
          <dt className="text-slate-600">{t("ledger.redacted")}</dt>
          <dd>{n(report.redacted)}</dd>
          <dt className="text-slate-600">{t("ledger.checkpoints")}</dt>
          <dd>{n(report.checkpoints)}</dd>
          <dt className="text-slate-600">{t("ledger.uncheckpointed")}</dt>
          <dd>{n(report.uncheckpointed)}</dd>
          <dt className="text-slate-600">{t("ledger.checked")}</dt>
          <dd>
            <Time value={report.checkedAt} /> ({n(report.durationMs)} ms)
          </dd>
        </dl>
        {report.problems.length > 0 ? (
          <ul className="mt-3 list-disc space-y-1 pl-5 text-sm">
            {report.problems.map((p) => (
              <li key={`${p.problem}-${p.id}`}>
                {p.problem === "checkpoint"
                  ? t("ledger.problem_checkpoint", { id: p.id })
                  : t("ledger.problem_row", { id: p.id })}
                : {t(`ledger.problem.${p.problem}`)}
              </li>
            ))}
          </ul>
        ) : null}
        <p className="mt-3 text-sm text-slate-600">
          {t("ledger.cli")} <code>npm run ledger:verify</code>.
        </p>
      </Section>
      <Section
        title={t("ledger.checkpoints")}
        id="checkpoints"
        actions={
          <Form method="post">
            <CsrfInput />
            <input type="hidden" name="intent" value="checkpoint" />
            <button type="submit" className={buttonClass.secondary}>
              {t("ledger.seal")}
            </button>
          </Form>
        }
      >
        <p className="text-sm text-slate-600">{t("ledger.keep_copy")}</p>
        {checkpoints.length === 0 ? (
          <p className="mt-2 text-sm">{t("ledger.no_checkpoint")}</p>
        ) : (
          <div className="mt-2 overflow-x-auto">
            <table className="min-w-full text-left text-sm">
              <thead>
                <tr className="border-b border-slate-200">
                  <th className="py-2 pr-4">#</th>
                  <th className="py-2 pr-4">{t("ledger.col_sealed")}</th>
                  <th className="py-2 pr-4">{t("ledger.rows")}</th>
                  <th className="py-2 pr-4">{t("ledger.col_up_to")}</th>
                  <th className="py-2 pr-4">{t("ledger.col_digest")}</th>
                </tr>
              </thead>
              <tbody>
                {checkpoints.map((c) => (
                  <tr key={c.id} className="border-b border-slate-100">
                    <td className="py-2 pr-4">{c.id}</td>
                    <td className="py-2 pr-4">
                      <Time value={c.createdAt} />
                    </td>
                    <td className="py-2 pr-4">{n(c.rowCount)}</td>
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
