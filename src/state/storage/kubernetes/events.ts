// Each log entry as a Kubernetes Event on its certificate's Secret (`kubectl describe secret`,
// `kubectl get events`): the cluster's own short-lived record of what happened, beside the full
// history in the agent's log. Events expire (an hour by default), so they are a view, not a store.

import { randomBytes } from 'node:crypto';
import type { LogEntry } from '../contract.js';
import type { KubeApi } from './api.js';
import { certificateSecret } from './names.js';

/** The Event API's limit on a message. */
const MESSAGE_LIMIT = 1024;

export async function recordEvent(api: KubeApi, prefix: string, log: string, entry: LogEntry, holder: string): Promise<void> {
  const secret = certificateSecret(prefix, entry.subject).name;
  const failed = /"result"\s*:\s*"failure"/.test(entry.body);
  await api.createEvent({
    metadata: { name: `${secret}.${randomBytes(8).toString('hex')}`, namespace: api.namespace },
    involvedObject: { apiVersion: 'v1', kind: 'Secret', name: secret, namespace: api.namespace },
    reason: reasonOf(log, entry.kind),
    message: entry.body.length > MESSAGE_LIMIT ? `${entry.body.slice(0, MESSAGE_LIMIT - 3)}...` : entry.body,
    type: failed ? 'Warning' : 'Normal',
    count: 1,
    firstTimestamp: entry.at,
    lastTimestamp: entry.at,
    source: { component: 'certkeeper' },
    reportingComponent: 'certkeeper',
    reportingInstance: holder.slice(0, 128),
  });
}

/** An Event reason is UpperCamelCase by convention: `history` + `dry-run` → `HistoryDryRun`. */
function reasonOf(log: string, kind: string): string {
  return `${log}-${kind}`
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('')
    .slice(0, 128);
}
