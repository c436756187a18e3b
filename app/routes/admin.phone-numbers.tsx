import {
  json,
  redirect,
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
  FieldError,
  hintClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import {
  callingCode,
  getPhoneRegionSetting,
  isPhoneRegion,
  PHONE_REGIONS,
  savePhoneRegion,
} from "~/settings/phone-region.server";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: adminPageTitle(matches, data?.title ?? "Phone numbers") },
];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const setting = await getPhoneRegionSetting(getDb());
  const locale = negotiateLocale(request);
  // Country names in the operator's language, made here (the browser's ICU data may differ).
  const names = new Intl.DisplayNames([locale], { type: "region" });
  const regions = PHONE_REGIONS.map((r) => ({
    code: r,
    name: names.of(r) ?? r,
    calling: callingCode(r),
  })).sort((a, b) => a.name.localeCompare(b.name, locale));
  return json(
    {
      i18n: i18nPayload(locale, ["imports"]),
      title: getFixedT(locale, "imports")("phone.title"),
      setting,
      saved: new URL(request.url).searchParams.get("saved") === "1",
      regions,
    },
    { headers: NO_STORE },
  );
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const t = getFixedT(negotiateLocale(request), "imports");
  const region = text(formData, "region").trim();
  if (region !== "" && !isPhoneRegion(region)) {
    return formError(t("phone.invalid"), { region: t("phone.invalid") });
  }
  await savePhoneRegion(getDb(), region || null, operator(user, request, context));
  return redirect("/admin/phone-numbers?saved=1");
}

export default function PhoneNumbers() {
  const { setting, saved, regions } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const t = useT("imports");
  const error = actionData && !actionData.ok ? actionData.fieldErrors.region : null;
  return (
    <div>
      <PageHeader title={t("phone.title")} description={t("phone.description")} />
      {saved ? <Notice kind="success">{t("phone.saved")}</Notice> : null}
      <Section title={t("phone.country")} id="country">
        <Form method="post" className="grid max-w-xl gap-3">
          <CsrfInput />
          <label htmlFor="region" className={labelClass}>
            {t("phone.country")}
          </label>
          <select
            id="region"
            name="region"
            defaultValue={setting.region ?? ""}
            aria-describedby="region-hint region-env"
            aria-invalid={error ? true : undefined}
            className={inputClass}
          >
            <option value="">{t("phone.country_none")}</option>
            {regions.map((r) => (
              <option key={r.code} value={r.code}>
                {r.name} ({r.calling})
              </option>
            ))}
          </select>
          <FieldError id="region-error" message={error} />
          <p id="region-hint" className={hintClass}>
            {t("phone.country_hint")}
          </p>
          <p id="region-env" className={hintClass}>
            {setting.envRegion
              ? t("phone.env", { region: setting.envRegion })
              : t("phone.env_none")}
          </p>
          <div>
            <button type="submit" className={buttonClass.primary}>
              {t("phone.save")}
            </button>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
