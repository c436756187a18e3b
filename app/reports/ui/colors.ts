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

export const CHART_COLOR = "#1d4ed8";
export const FLAG_COLOR = "#b91c1c"; // red-700
