// The `http:` config section (the agent's endpoint, observe/http.ts): a schema part, apart from the
// server so loading the config does not load it.

import { z } from 'zod';
import { parseHostPort, type HostPort } from '../core/fields.js';

export const DEFAULT_HTTP_PORT = 9107;
export const DEFAULT_HTTP_LISTEN = `127.0.0.1:${DEFAULT_HTTP_PORT}`;

/** The `http:` config section (the endpoint is off when the section is absent). */
export const httpSettingsSchema = z
  .object({
    /** "host:port", IPv6 as "[::1]:9107"; the port defaults to 9107. */
    listen: z
      .string()
      .refine((text) => parseListen(text) !== undefined, { message: 'must be "host:port" (IPv6 as "[::1]:9107")' })
      .default(DEFAULT_HTTP_LISTEN),
    /** Accept POST /reload from non-loopback clients (it has no authentication; see http.ts). */
    allowRemoteReload: z.boolean().default(false),
  })
  .strict();

export type HttpSettings = z.infer<typeof httpSettingsSchema>;

/** "host:port" or "host" (port 9107); port 0 binds a free port (tests). */
export function parseListen(text: string): HostPort | undefined {
  // parseHostPort refuses port 0, which only a listener can use.
  const zero = /^(\[[^\]]+\]|[^:\s]+):0$/.exec(text);
  if (zero) {
    const parsed = parseHostPort(`${zero[1]}:1`);
    return parsed ? { host: parsed.host, port: 0 } : undefined;
  }
  return parseHostPort(text, DEFAULT_HTTP_PORT);
}
