// Escaping for the status page: every value that reaches the HTML goes through `text` or `attr`.

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function text(value: string | number | null | undefined): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export const attr = text;

/** "2026-12-04 16:27 UTC" (the page's one time format; no locale or time zone guessing). */
export function when(iso: string | null | undefined): string {
  if (!iso) return '-';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '-' : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "3.2 d", "5 h", "12 min" between two instants, signed by the caller's wording. */
export function span(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= 86_400_000) return `${(abs / 86_400_000).toFixed(abs >= 10 * 86_400_000 ? 0 : 1)} d`;
  if (abs >= 3_600_000) return `${Math.round(abs / 3_600_000)} h`;
  return `${Math.max(1, Math.round(abs / 60_000))} min`;
}
