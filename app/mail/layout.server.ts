import { getEnv } from "~/env.server";
import { logoSrc } from "~/settings/logo.server";
import type { Branding } from "~/settings/settings.server";

/**
 * The branded frame of every transactional email: HTML (tables and inline styles, which is what
 * mail clients render reliably) and plain text. Every value is escaped here; translations carry
 * no HTML. Bump LAYOUT_VERSION when the markup changes: it is part of each template version kept
 * as double opt-in evidence.
 */
export const LAYOUT_VERSION = 1;

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Black or white, whichever reads better on the brand colour (WCAG relative luminance). */
export function readableOn(hex: string): "#000000" | "#ffffff" {
  const channel = (i: number) => {
    const v = Number.parseInt(hex.slice(1 + i * 2, 3 + i * 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
  // Contrast with white: 1.05 / (l + 0.05); with black: (l + 0.05) / 0.05.
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#ffffff" : "#000000";
}

export type EmailBlock =
  | { type: "heading"; text: string }
  | { type: "paragraph"; text: string; muted?: boolean }
  | { type: "button"; text: string; url: string };

export type EmailContent = {
  locale: string;
  subject: string;
  /** The line mail clients show after the subject. */
  preheader: string;
  blocks: EmailBlock[];
  /** The URL shown again under the button for clients that block buttons. */
  fallbackUrl?: { label: string; url: string };
  footer: string[];
  privacy?: { label: string; url: string };
};

const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";

export function renderHtml(content: EmailContent, branding: Branding): string {
  const accent = branding.accentColor;
  const onAccent = readableOn(accent);
  // An uploaded logo is served by Heed: mail clients need its absolute URL.
  const logo = logoSrc(
    { logoFile: branding.logoFile ?? "", logoUrl: branding.logoUrl },
    getEnv().publicUrl,
  );
  const header = logo
    ? `<img src="${escapeHtml(logo)}" alt="${escapeHtml(branding.organizationName)}" height="40" style="display:block;height:40px;width:auto;border:0;">`
    : `<span style="font-size:20px;font-weight:700;color:#0f172a;">${escapeHtml(branding.organizationName)}</span>`;
  const body = content.blocks
    .map((b) => {
      if (b.type === "heading") {
        return `<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3;color:#0f172a;">${escapeHtml(b.text)}</h1>`;
      }
      if (b.type === "paragraph") {
        const color = b.muted ? "#475569" : "#0f172a";
        const size = b.muted ? "14px" : "16px";
        return `<p style="margin:0 0 16px;font-size:${size};line-height:1.5;color:${color};">${escapeHtml(b.text)}</p>`;
      }
      return (
        `<table role="presentation" cellpadding="0" cellspacing="0" style="margin:8px 0 24px;"><tr>` +
        `<td style="border-radius:6px;background:${accent};">` +
        `<a href="${escapeHtml(b.url)}" style="display:inline-block;padding:12px 24px;font-size:16px;font-weight:600;color:${onAccent};text-decoration:none;border-radius:6px;">${escapeHtml(b.text)}</a>` +
        `</td></tr></table>`
      );
    })
    .join("\n");
  const fallback = content.fallbackUrl
    ? `<p style="margin:0 0 16px;font-size:13px;line-height:1.5;color:#475569;">${escapeHtml(content.fallbackUrl.label)}<br>` +
      `<a href="${escapeHtml(content.fallbackUrl.url)}" style="color:#1e40af;word-break:break-all;">${escapeHtml(content.fallbackUrl.url)}</a></p>`
    : "";
  const footer = content.footer
    .map(
      (line) =>
        `<p style="margin:0 0 8px;font-size:12px;line-height:1.5;color:#64748b;">${escapeHtml(line)}</p>`,
    )
    .join("");
  const privacy = content.privacy
    ? `<p style="margin:0;font-size:12px;line-height:1.5;"><a href="${escapeHtml(content.privacy.url)}" style="color:#475569;">${escapeHtml(content.privacy.label)}</a></p>`
    : "";
  return `<!doctype html>
<html lang="${escapeHtml(content.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${escapeHtml(content.subject)}</title>
</head>
<body style="margin:0;padding:0;background:#f1f5f9;font-family:${FONT};">
<div style="display:none;max-height:0;overflow:hidden;">${escapeHtml(content.preheader)}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f1f5f9;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;border-top:4px solid ${accent};">
<tr><td style="padding:24px 28px 8px;">${header}</td></tr>
<tr><td style="padding:16px 28px 12px;font-family:${FONT};">
${body}
${fallback}
</td></tr>
</table>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;">
<tr><td style="padding:16px 28px;font-family:${FONT};">${footer}${privacy}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`;
}

export function renderText(content: EmailContent, branding: Branding): string {
  const lines: string[] = [branding.organizationName, ""];
  for (const b of content.blocks) {
    if (b.type === "heading") lines.push(b.text, "=".repeat(Math.min(b.text.length, 60)), "");
    else if (b.type === "paragraph") lines.push(b.text, "");
    else lines.push(`${b.text}:`, b.url, "");
  }
  lines.push("-- ");
  lines.push(...content.footer);
  if (content.privacy) lines.push(`${content.privacy.label}: ${content.privacy.url}`);
  return `${lines.join("\n")}\n`;
}
