// The body of GET /status and its ETag: the status page polls /status with If-None-Match, and at
// 10,000 certificates the body is megabytes. The agent publishes a new array of rows after each
// plan or batch, so the ETag names that array (this process, a counter), costing the page nothing,
// and the body is serialised once per array, when first asked for.

import { randomBytes } from 'node:crypto';
import type { StatusRow } from '../core/status.js';

const PROCESS_TAG = randomBytes(6).toString('base64url');
let generation = 0;
const etags = new WeakMap<readonly StatusRow[], string>();
const bodies = new WeakMap<readonly StatusRow[], string>();

export function statusEtag(rows: readonly StatusRow[]): string {
  let etag = etags.get(rows);
  if (etag === undefined) etags.set(rows, (etag = `"${PROCESS_TAG}-${++generation}"`));
  return etag;
}

export function statusBody(rows: readonly StatusRow[]): { body: string; etag: string } {
  let body = bodies.get(rows);
  if (body === undefined) bodies.set(rows, (body = `${JSON.stringify(rows, null, 2)}\n`));
  return { body, etag: statusEtag(rows) };
}
