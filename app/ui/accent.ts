/**
 * The operator's accent colour as CSS variables (space-separated RGB, for Tailwind's
 * `rgb(var(--x) / <alpha>)`): the accent itself, a text colour readable on it, and an "ink"
 * variant dark enough for links and focus rings on white (WCAG AA, 4.5:1). Any #rrggbb works.
 */
type Rgb = [number, number, number];

function parseHex(hex: string): Rgb | null {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  return m ? [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)] : null;
}

function luminance([r, g, b]: Rgb): number {
  const ch = (v: number) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
}

export function contrastRatio(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const WHITE: Rgb = [255, 255, 255];
// Pure black: for any colour, white or black reaches at least 4.58:1 against it.
const BLACK: Rgb = [0, 0, 0];

export type AccentPalette = { accent: Rgb; onAccent: Rgb; ink: Rgb };

export function accentPalette(hex: string, fallback = "#2563eb"): AccentPalette {
  const accent = parseHex(hex) ?? parseHex(fallback)!;
  const onAccent = contrastRatio(accent, WHITE) >= contrastRatio(accent, BLACK) ? WHITE : BLACK;
  // Darken toward black until the ink reads on white (and on slate-50 backgrounds).
  let ink: Rgb = accent;
  for (let i = 0; i < 20 && contrastRatio(ink, [248, 250, 252]) < 4.8; i++) {
    ink = ink.map((v) => Math.round(v * 0.85)) as Rgb;
  }
  return { accent, onAccent, ink };
}

const cache = new Map<string, string>();

/** `:root{...}` for a nonce'd <style> in the document head. */
export function accentCss(hex: string): string {
  let css = cache.get(hex);
  if (!css) {
    const p = accentPalette(hex);
    const v = (c: Rgb) => c.join(" ");
    css = `:root{--heed-accent:${v(p.accent)};--heed-on-accent:${v(p.onAccent)};--heed-accent-ink:${v(p.ink)}}`;
    if (cache.size > 100) cache.clear();
    cache.set(hex, css);
  }
  return css;
}
