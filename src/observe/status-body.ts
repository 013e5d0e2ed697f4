// The body of GET /status and its ETag, serialised once per set of rows: the status page polls
// /status with If-None-Match, and at 10,000 certificates the body is megabytes.

import { createHash } from 'node:crypto';
import type { StatusRow } from '../engine/status.js';

const statusBodies = new WeakMap<readonly StatusRow[], { body: string; etag: string }>();

/** The JSON of a set of rows and its ETag, computed once per set (the agent replaces the array after each plan or batch). */
export function statusBody(rows: readonly StatusRow[]): { body: string; etag: string } {
  let cached = statusBodies.get(rows);
  if (!cached) {
    const body = `${JSON.stringify(rows, null, 2)}\n`;
    cached = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    statusBodies.set(rows, cached);
  }
  return cached;
}

