// Plain-text tables for terminal output: columns padded to their widest cell.

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** "2026-11-22 14:05" in UTC: compact and unambiguous. */
export function shortTime(iso: string | null): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z');
}

/** The first line of a (possibly multi-line) message, cut to `max` characters for a table cell. */
export function oneLine(text: string, max = 100): string {
  const first =
    text
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)[0] ?? '';
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}
