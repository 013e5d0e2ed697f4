// The status page as one self-contained HTML document: timelines in inline SVG, what needs
// attention first, one page of rows worst first, and a certificate's detail view. Read-only: no
// form, no button that acts, no external resource. The agent serves it at GET /, and
// `certkeeper report --html` writes it to a file.

import type { StatusRow } from '../../core/status.js';
import type { WatchResult } from '../../core/endpoint-results.js';
import { redactText } from '../../core/redaction.js';
import { attr, span, text, when } from './html.js';
import {
  attentionItems,
  ATTENTION_LIMIT,
  axisFor,
  certSpan,
  endpointSpan,
  endpointsWorstFirst,
  paginate,
  PAGE_SIZE,
  timeline,
  worstFirst,
  type Axis,
  type CertDetail,
  type PageData,
  type Timeline,
} from './model.js';
import { contentSecurityPolicy, POLL_SCRIPT } from './script.js';
import { STYLE } from './style.js';

export interface RenderOptions {
  /** Served by a running agent: polls /status and links the detail views. A static report does neither. */
  live: boolean;
  /** 1-based page of certificate rows. */
  page?: number;
  pageSize?: number;
  /** The ETag of /status for the rows rendered, so the first poll is already conditional. */
  statusEtag?: string;
}

/** Shape and word for each state, so colour is never the only cue. */
const STATE_LOOK: Record<StatusRow['state'], { label: string; mark: string }> = {
  expired: { label: 'expired', mark: '■' },
  failing: { label: 'failing', mark: '✖' },
  due: { label: 'renewing', mark: '↻' },
  missing: { label: 'not issued', mark: '○' },
  valid: { label: 'valid', mark: '✔' },
};

export function renderPage(data: PageData, options: RenderOptions): string {
  const rows = worstFirst(data.certificates);
  const slice = paginate(rows, options.page ?? 1, options.pageSize ?? PAGE_SIZE);
  const endpoints = endpointsWorstFirst(data.endpoints);
  const axis = axisFor([...slice.items.map(certSpan), ...endpoints.map(endpointSpan)], data.now);
  const counts = countStates(rows);
  const body = `<section class="summary" aria-label="summary">${summary(counts, rows.length, data.endpoints.length)}</section>
${attention(data, rows, options.live)}
<section aria-labelledby="certs-h"><h2 id="certs-h">Certificates <small>worst first · ${slice.total === 0 ? 'none configured' : `${(slice.page - 1) * (options.pageSize ?? PAGE_SIZE) + 1}–${(slice.page - 1) * (options.pageSize ?? PAGE_SIZE) + slice.items.length} of ${slice.total}`}</small></h2>
${legend(data.alertDays)}${axisLabels(axis)}
<ol class="rows" data-axis-start="${new Date(axis.start).toISOString()}" data-axis-end="${new Date(axis.end).toISOString()}">${slice.items.map((row) => certRow(row, axis, data, options.live)).join('')}</ol>
${options.live ? pager(slice.page, slice.pages) : slice.pages > 1 ? `<p class="note">This report shows the ${slice.items.length} most urgent of ${slice.total} certificates.</p>` : ''}</section>
${endpoints.length ? `<section aria-labelledby="ep-h"><h2 id="ep-h">Watched endpoints <small>earliest expiry in the served chain</small></h2><ol class="rows" data-axis-start="${new Date(axis.start).toISOString()}" data-axis-end="${new Date(axis.end).toISOString()}">${endpoints.map((e) => endpointRow(e, axis, data)).join('')}</ol></section>` : ''}`;
  return documentOf('certkeeper status', body, data, options.live, options.statusEtag);
}

export function renderDetail(
  detail: CertDetail,
  data: Omit<PageData, 'certificates'>,
  options: { live: boolean; historyLimit?: number; statusEtag?: string },
): string {
  return documentOf(
    `certkeeper · ${detail.row.name}`,
    `${options.live ? '<p><a href="./">← all certificates</a></p>' : ''}${detailSection(detail, data, options.historyLimit ?? 30)}`,
    data,
    options.live,
    options.statusEtag,
  );
}

/** A detail view as a section, for the report (which inlines the ones that need attention). */
export function detailSection(detail: CertDetail, data: Pick<PageData, 'now' | 'alertDays'>, historyLimit = 30): string {
  const row = detail.row;
  const look = STATE_LOOK[row.state];
  const axis = axisFor([certSpan(row)], data.now);
  const history = detail.history.slice(0, historyLimit);
  return `<section class="detail" id="cert-${attr(row.name)}" aria-label="certificate ${attr(row.name)}">
<h2>${text(row.name)} <span class="badge s-${row.state}">${look.mark} ${look.label}</span></h2>
${svg(timeline(axis, data.now, certSpan(row), { renewAt: row.renewAt, ari: row.ari ? { start: row.ari.windowStart, end: row.ari.windowEnd } : null }, data.alertDays), row.state)}
<dl>
<dt>Domains</dt><dd>${row.domains.map((d) => `<code>${text(d)}</code>`).join(' ')}</dd>
<dt>Issuer</dt><dd>${text(row.issuer ?? '-')}</dd>
<dt>Serial</dt><dd><code>${text(row.serial ?? '-')}</code></dd>
<dt>Valid</dt><dd>${when(row.notBefore)} → ${when(row.notAfter)}</dd>
<dt>Renews</dt><dd>${renews(row, data.now)}</dd>
${row.ari ? `<dt>ARI window</dt><dd>${when(row.ari.windowStart)} → ${when(row.ari.windowEnd)}</dd>` : ''}
${row.lastResult ? `<dt>Last outcome</dt><dd>${text(row.lastResult.action)} ${text(row.lastResult.result)} ${when(row.lastResult.at)}${row.lastResult.error ? `<br><span class="error">${clean(row.lastResult.error)}</span>` : ''}</dd>` : ''}
</dl>
<h3>Sinks</h3>
${detail.sinks.length ? `<table><thead><tr><th>Sink</th><th>Deployed serial</th><th>When</th><th>Current?</th></tr></thead><tbody>${detail.sinks.map((s) => `<tr><td>${text(s.name)}</td><td><code>${text(s.serial ? s.serial.slice(0, 16) : '-')}</code></td><td>${when(s.at)}</td><td>${s.current ? '✔ yes' : '✖ pending'}</td></tr>`).join('')}</tbody></table>` : '<p>No sinks.</p>'}
<h3>Last ${history.length} outcomes <small>newest first</small></h3>
<ol class="strip" aria-label="outcome strip">${history.map((h) => `<li class="o-${h.result === 'success' ? 'ok' : h.code === 'CANCELLED' ? 'cancel' : 'fail'}" title="${attr(`${when(h.at)} ${h.action}${h.sink ? ` → ${h.sink}` : ''} ${h.result}${h.error ? `: ${redactText(h.error)}` : ''}`)}">${h.result === 'success' ? '✔' : h.code === 'CANCELLED' ? '–' : '✖'}</li>`).join('')}</ol>
${history.length ? `<table class="history"><thead><tr><th>At</th><th>Action</th><th>Result</th><th>Detail</th></tr></thead><tbody>${history.map((h) => `<tr><td>${when(h.at)}</td><td>${text(h.sink ? `${h.action} → ${h.sink}` : h.action)}</td><td>${text(h.code === 'CANCELLED' ? 'cancelled' : h.result)}</td><td>${h.error ? clean(h.error) : text(h.reason ?? '')}</td></tr>`).join('')}</tbody></table>` : '<p>No history yet.</p>'}
</section>`;
}

function documentOf(title: string, body: string, data: Pick<PageData, 'now' | 'agentId'>, live: boolean, etag?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(live, 'meta'))}">
<meta name="referrer" content="no-referrer">
<title>${text(title)}</title>
<style>${STYLE}</style></head>
<body><header><h1>certkeeper</h1><p>${data.agentId ? `agent <code>${text(data.agentId)}</code> · ` : ''}as of <time datetime="${data.now.toISOString()}">${when(data.now.toISOString())}</time> · <span id="updated">${live ? 'live: updates every 15 s' : 'static report'}</span></p></header>
<main id="live"${etag ? ` data-etag="${attr(etag)}"` : ''}>${body}</main>
${live ? `<script>${POLL_SCRIPT}</script>` : ''}</body></html>
`;
}

function countStates(rows: readonly StatusRow[]): Record<StatusRow['state'], number> {
  const counts: Record<StatusRow['state'], number> = { expired: 0, failing: 0, due: 0, missing: 0, valid: 0 };
  for (const row of rows) counts[row.state] += 1;
  return counts;
}

function summary(counts: Record<StatusRow['state'], number>, total: number, endpoints: number): string {
  const parts = (Object.keys(STATE_LOOK) as StatusRow['state'][]).map(
    (state) => `<li class="badge s-${state}">${STATE_LOOK[state].mark} <b>${counts[state]}</b> ${STATE_LOOK[state].label}</li>`,
  );
  return `<ul class="counts">${parts.join('')}</ul><p>${total} certificate${total === 1 ? '' : 's'}${endpoints ? `, ${endpoints} watched endpoint${endpoints === 1 ? '' : 's'}` : ''}</p>`;
}

function attention(data: PageData, sorted: StatusRow[], live: boolean): string {
  const items = attentionItems(data, sorted);
  if (items.length === 0)
    return '<section class="attention calm" aria-labelledby="att-h"><h2 id="att-h">Needs attention</h2><p>✔ Nothing: every certificate is valid and deployed.</p></section>';
  const shown = items.slice(0, ATTENTION_LIMIT);
  return `<section class="attention" aria-labelledby="att-h"><h2 id="att-h">Needs attention <small>${items.length}</small></h2><ul>${shown
    .map((item) => {
      const name =
        item.cert && live && item.kind !== 'endpoint' ? `<a href="?cert=${encodeURIComponent(item.cert)}">${text(item.subject)}</a>` : text(item.subject);
      return `<li class="k-${item.kind}" data-subject="${attr(item.subject)}"><b>${name}</b> ${text(item.title)}${item.nextTry ? ` · next try ${when(item.nextTry)}` : ''}${item.detail ? `<br><span class="error">${clean(item.detail)}</span>` : ''}</li>`;
    })
    .join('')}</ul>${items.length > shown.length ? `<p>and ${items.length - shown.length} more (the rows below are worst first)</p>` : ''}</section>`;
}

function legend(alertDays: readonly number[]): string {
  return `<p class="legend"><span class="lg-bar"></span> valid from → until <span class="lg-now"></span> now <span class="lg-renew"></span> renews <span class="lg-ari"></span> ARI window <span class="lg-th"></span> alerts at ${alertDays.join('/')} days left</p>`;
}

function axisLabels(axis: Axis): string {
  return `<p class="axis"><span>${when(new Date(axis.start).toISOString()).slice(0, 10)}</span><span>${when(new Date(axis.end).toISOString()).slice(0, 10)}</span></p>`;
}

function certRow(row: StatusRow, axis: Axis, data: PageData, live: boolean): string {
  const look = STATE_LOOK[row.state];
  const line = timeline(
    axis,
    data.now,
    certSpan(row),
    { renewAt: row.renewAt, ari: row.ari ? { start: row.ari.windowStart, end: row.ari.windowEnd } : null },
    data.alertDays,
  );
  const name = live ? `<a href="?cert=${encodeURIComponent(row.name)}">${text(row.name)}</a>` : `<a href="#cert-${attr(row.name)}">${text(row.name)}</a>`;
  return `<li class="row" data-name="${attr(row.name)}" data-state="${row.state}" data-not-before="${attr(row.notBefore ?? '')}" data-not-after="${attr(row.notAfter ?? '')}">
<div class="label">${name} <span class="badge s-${row.state}">${look.mark} ${look.label}</span> <span class="left">${left(row.notAfter, data.now)}</span></div>
${svg(line, row.state)}
<div class="sub">${line.bar?.cutEnd ? 'valid past the right edge → · ' : ''}${text(row.domains.slice(0, 3).join(' '))}${row.domains.length > 3 ? ` +${row.domains.length - 3}` : ''} · renews ${renews(row, data.now)}${row.state === 'failing' && row.lastResult?.error ? ` · <span class="error">${clean(row.lastResult.error)}</span>` : ''}${row.serial && row.pendingSinks.length ? ` · pending: ${text(row.pendingSinks.join(', '))}` : ''}</div></li>`;
}

function endpointRow(endpoint: WatchResult, axis: Axis, data: PageData): string {
  const span = endpointSpan(endpoint);
  const line = timeline(axis, data.now, span, {}, data.alertDays);
  const state = !endpoint.reachable ? 'unreachable' : endpoint.alert.reason === 'expired' ? 'expired' : endpoint.ok ? 'ok' : 'alert';
  const look = { ok: '✔ ok', alert: '▲ alert', expired: '■ expired', unreachable: '✖ unreachable' }[state];
  return `<li class="row" data-endpoint="${attr(endpoint.endpoint)}" data-state="${state}" data-not-before="${span.start === null ? '' : new Date(span.start).toISOString()}" data-not-after="${span.end === null ? '' : new Date(span.end).toISOString()}">
<div class="label"><b>${text(endpoint.endpoint)}</b> <span class="badge e-${state}">${look}</span> <span class="left">${left(span.end === null ? null : new Date(span.end).toISOString(), data.now)}</span></div>
${svg(line, state === 'ok' ? 'valid' : state === 'alert' ? 'due' : state === 'expired' ? 'expired' : 'failing')}
<div class="sub">${text(endpoint.leaf?.names.slice(0, 3).join(' ') ?? endpoint.error ?? '')}${span.intermediate ? ` · the intermediate <b>${text(span.intermediate)}</b> expires first` : ''}${endpoint.messages.length ? ` · <span class="error">${clean(endpoint.messages.join('; '))}</span>` : ''} · probed ${when(endpoint.at)}</div></li>`;
}

/** The bar, its cut ends, the thresholds, the ARI window, renewAt and now, in the axis' 0…1000 coordinates. */
function svg(line: Timeline, state: string): string {
  const parts: string[] = ['<rect class="track" x="0" y="9" width="1000" height="6"/>'];
  if (line.bar) parts.push(`<rect class="bar s-${state}" x="${line.bar.x}" y="5" width="${line.bar.width}" height="14" rx="2"/>`);
  if (line.ari) parts.push(`<rect class="ari" x="${line.ari.x}" y="2" width="${Math.max(line.ari.width, 2)}" height="20"/>`);
  for (const t of line.thresholds) parts.push(`<line class="threshold" data-days="${t.days}" x1="${t.x}" x2="${t.x}" y1="3" y2="21"/>`);
  if (line.renewAt !== null) parts.push(`<line class="renew" x1="${line.renewAt}" x2="${line.renewAt}" y1="0" y2="24"/>`);
  parts.push(`<line class="now" x1="${line.now}" x2="${line.now}" y1="0" y2="24"/>`);
  return `<svg class="timeline" viewBox="0 0 1000 24" preserveAspectRatio="none" role="img" aria-hidden="true">${parts.join('')}</svg>`;
}

function left(notAfter: string | null, now: Date): string {
  if (!notAfter) return 'no certificate';
  const ms = Date.parse(notAfter) - now.getTime();
  return ms <= 0 ? `expired ${span(ms)} ago` : `${span(ms)} left`;
}

function renews(row: StatusRow, now: Date): string {
  if (row.state === 'failing' && row.nextAttemptAt) return `next try ${when(row.nextAttemptAt)}`;
  if (!row.renewAt) return '-';
  const ms = Date.parse(row.renewAt) - now.getTime();
  return ms <= 0 ? 'now' : `${when(row.renewAt)} (in ${span(ms)}${row.renewRule === 'ari' ? ', ARI' : ''})`;
}

/** Error texts are redacted where they enter certkeeper; scrubbed once more here, then escaped. */
function clean(message: string): string {
  return text(redactText(message));
}

function pager(page: number, pages: number): string {
  if (pages <= 1) return '';
  const link = (p: number, label: string): string => `<a href="?page=${p}" rel="${p < page ? 'prev' : 'next'}">${label}</a>`;
  return `<nav class="pager" aria-label="pages">${page > 1 ? link(page - 1, '← more urgent') : ''} page ${page} of ${pages} ${page < pages ? link(page + 1, 'less urgent →') : ''}</nav>`;
}
