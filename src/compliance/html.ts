/**
 * HTML text escaping for generated reports (OWASP XSS Prevention Cheat Sheet, rule 1: encode
 * & < > " ' in element content and quoted attribute values). Every value that reaches a report
 * passes through {@link escapeHtml}, numbers included, so no caller can forget it.
 */
const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** A tagged template that escapes every interpolated value; {@link raw} marks trusted markup. */
export function html(strings: TemplateStringsArray, ...values: readonly unknown[]): Markup {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Markup(out);
}

/** Markup already escaped (built by {@link html}). */
export class Markup {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

function render(v: unknown): string {
  if (v instanceof Markup) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (typeof v === 'string' || typeof v === 'number') return escapeHtml(v);
  if (v === null || v === undefined || typeof v === 'boolean') return '';
  throw new TypeError('only strings, numbers and markup go into a report');
}
