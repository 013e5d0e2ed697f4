// The page as a running agent serves it (GET /) and as `report --html` writes it: PageData from
// the latest status rows, the last watch round and the config, and a detail view on ?cert=NAME.

import type { CertificateSpec } from '../../core/types.js';
import type { StatusRow } from '../../core/status.js';
import type { StateStore } from '../../state/contract.js';
import type { WatchResult } from '../../core/endpoint-results.js';
import type { WatchSettings } from '../../verify/schema.js';
import { DEFAULT_ALERT_DAYS, type PageData } from './model.js';
import { renderDetail, renderPage } from './render.js';
import { certDetail } from './source.js';
import { statusEtag } from '../status-body.js';

export interface PageSources {
  now: () => Date;
  /** The parts of the loaded config the page shows (config/load.ts Config has them). */
  config: () => { agentId: string; certificates: readonly Pick<CertificateSpec, 'name' | 'sinks'>[]; watch: Pick<WatchSettings, 'alertDays'> | undefined };
  rows: () => Promise<readonly StatusRow[]> | readonly StatusRow[];
  endpoints: () => Promise<readonly WatchResult[] | undefined>;
  store: () => Pick<StateStore, 'readHistory'> | undefined;
}

export async function pageData(sources: PageSources): Promise<PageData> {
  const config = sources.config();
  return {
    now: sources.now(),
    agentId: config.agentId,
    certificates: await sources.rows(),
    endpoints: (await sources.endpoints().catch(() => undefined)) ?? [],
    alertDays: config.watch?.alertDays ?? [...DEFAULT_ALERT_DAYS],
  };
}

/** GET /?page=N, or GET /?cert=NAME (undefined: no such certificate). */
export async function servePage(sources: PageSources, query: URLSearchParams): Promise<string | undefined> {
  const data = await pageData(sources);
  const etag = statusEtag(data.certificates);
  const name = query.get('cert');
  if (name === null) return renderPage(data, { live: true, page: Number(query.get('page') ?? 1), statusEtag: etag });
  const row = data.certificates.find((r) => r.name === name);
  const store = sources.store();
  if (!row || !store) return undefined;
  const spec = sources.config().certificates.find((c) => c.name === name);
  return renderDetail(await certDetail(row, spec?.sinks ?? [], store), data, { live: true, statusEtag: etag });
}
