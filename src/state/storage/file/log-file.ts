// Reading a JSON Lines log newest first: the file is read backwards in chunks, so the last 50
// entries of one certificate cost a few chunks however long the log has grown, and memory stays
// flat. A torn last line (a writer killed mid-append) is skipped.

import { constants, promises as fs } from 'node:fs';
import { z } from 'zod';
import type { LogEntry, LogQuery } from '../contract.js';

const CHUNK_BYTES = 256 * 1024;

/** One line as the file storage appends it; a line that is not one is skipped. */
const logLineCodec = z.object({ at: z.string(), subject: z.string(), kind: z.string(), body: z.string() });

type LogLine = z.infer<typeof logLineCodec>;

function parseLine(text: string): LogLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // torn by a crash
  }
  const parsed = logLineCodec.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export async function readLogNewestFirst(file: string, query: LogQuery): Promise<LogEntry[]> {
  const limit = query.limit ?? Number.POSITIVE_INFINITY;
  const out: LogEntry[] = [];
  if (limit <= 0) return out;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    let end = size;
    let carry = Buffer.alloc(0); // the start of a line whose beginning lies in an earlier chunk
    const chunk = Buffer.alloc(CHUNK_BYTES);
    const take = (text: string): boolean => {
      if (text.trim() === '') return false;
      // A cheap test before parsing: most lines of a big log are about other certificates.
      if (query.subject !== undefined && !text.includes(JSON.stringify(query.subject))) return false;
      const line = parseLine(text);
      if (!line || (query.subject !== undefined && line.subject !== query.subject) || (query.kind !== undefined && line.kind !== query.kind)) return false;
      out.push({ at: new Date(line.at), subject: line.subject, kind: line.kind, body: line.body });
      return out.length >= limit;
    };
    while (end > 0) {
      const start = Math.max(0, end - CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const data = carry.length > 0 ? Buffer.concat([chunk.subarray(0, bytesRead), carry]) : chunk.subarray(0, bytesRead);
      let lineEnd = data.length;
      for (let newline = data.lastIndexOf(0x0a, lineEnd - 1); newline !== -1; newline = data.lastIndexOf(0x0a, lineEnd - 1)) {
        if (take(data.toString('utf8', newline + 1, lineEnd))) return out;
        lineEnd = newline;
        if (lineEnd === 0) break;
      }
      carry = Buffer.from(data.subarray(0, lineEnd));
      end = start;
    }
    if (carry.length > 0) take(carry.toString('utf8'));
    return out;
  } finally {
    await handle.close();
  }
}
