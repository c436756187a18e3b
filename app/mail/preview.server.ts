/**
 * For the development outbox: shows an email's HTML inside a Heed page. Email HTML needs inline
 * `style` attributes, which Heed's Content-Security-Policy (rightly) refuses; so each distinct
 * style becomes a class, and the rules go into one <style> element that carries the page's nonce.
 * Only for HTML that Heed rendered itself (app/mail/layout.server.ts), never for outside input.
 */
export function previewHtml(
  html: string,
  scope = "heed-mail-preview",
): { css: string; body: string } {
  const bodyMatch = /<body([^>]*)>([\s\S]*)<\/body>/i.exec(html);
  const bodyAttrs = bodyMatch?.[1] ?? "";
  let body = bodyMatch?.[2] ?? html;
  const classes = new Map<string, string>();
  const classFor = (style: string) => {
    let name = classes.get(style);
    if (!name) {
      name = `m${classes.size}`;
      classes.set(style, name);
    }
    return name;
  };
  const decode = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, "&");
  body = body.replace(
    /\sstyle="([^"]*)"/g,
    (_, style: string) => ` class="${classFor(decode(style))}"`,
  );
  const bodyStyle = /\sstyle="([^"]*)"/.exec(bodyAttrs)?.[1];
  const rules = [...classes].map(([style, name]) => `.${scope} .${name}{${style}}`);
  if (bodyStyle) rules.unshift(`.${scope}{${decode(bodyStyle)}}`);
  // Nothing in a style value may close the <style> element.
  const css = rules.join("\n").replace(/<\/?style/gi, "");
  return { css, body };
}

/** Splits text into plain runs and http(s) URLs, so that a page can make the URLs clickable. */
export function linkify(text: string): { text: string; url?: string }[] {
  const out: { text: string; url?: string }[] = [];
  const re = /https?:\/\/[^\s<>"]+/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ text: m[0], url: m[0] });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}
