import type { Channel } from "~/db/schema";

/**
 * Chart colours (SVG fill attributes) and the Tailwind classes of the matching legend swatches.
 * Each has at least 3:1 contrast on white (WCAG 1.4.11, non-text contrast).
 */
export const CHANNEL_COLORS: Record<Channel, string> = {
  email: "#1d4ed8", // blue-700
  sms: "#b45309", // amber-700
  whatsapp: "#047857", // emerald-700
};

export const CHANNEL_SWATCH: Record<Channel, string> = {
  email: "bg-blue-700",
  sms: "bg-amber-700",
  whatsapp: "bg-emerald-700",
};

export const CHANNEL_LABELS: Record<Channel, string> = {
  email: "Email",
  sms: "SMS",
  whatsapp: "WhatsApp",
};

export const CHART_COLOR = "#1d4ed8";
export const FLAG_COLOR = "#b91c1c"; // red-700

export const SOURCE_LABELS: Record<string, string> = {
  link: "Unsubscribe link",
  one_click: "One-click (mail client)",
  preference_page: "Preference page",
  sms_keyword: "SMS keyword",
  admin: "Admin",
  import: "Import",
  api: "API",
  double_opt_in: "Double opt-in",
  system: "System",
};
