// Settings that are valid but weaken transport security, computed once when the config is loaded
// (Config.warnings). They never fail validation; every command that loads the config logs them,
// `validate` prints them and `doctor` reports each as a WARN line.

import { BlockList, isIP } from 'node:net';
import { parseListen } from '../observe/http-schema.js';
import type { SinkConfig } from '../sinks/schema.js';
import type { HttpSettings } from '../observe/http-schema.js';
import type { IssuerSettings } from './issuers.js';

export interface ConfigWarning {
  /** Where: a YAML path (`acme.directory`, `sinks.web.keyMode`), or `environment` for a variable. */
  path: string;
  message: string;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4'); // also matches IPv4 loopback mapped into IPv6 (::ffff:7f00:1)
LOOPBACK.addAddress('::1', 'ipv6');

/** localhost, 127.0.0.0/8 and ::1, in any spelling: traffic that never leaves the host. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 6 ? 'ipv6' : 'ipv4');
}

/** Bits beyond 0640 (owner read-write, group read) on a private key. */
const KEY_MODE_LIMIT = 0o640;

export interface WarningInputs {
  issuers: IssuerSettings[];
  /** Whether the issuers came from `issuers:` (their paths are issuers[i]) rather than `acme:`. */
  issuersList: boolean;
  http: HttpSettings | undefined;
  sinks: Record<string, SinkConfig>;
}

export function configWarnings(config: WarningInputs, env: NodeJS.ProcessEnv): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  config.issuers.forEach((issuer, index) => {
    const at = config.issuersList ? `issuers[${index}]` : 'acme';
    for (const [field, url] of [
      ['directory', issuer.directoryUrl],
      ['stagingDirectory', issuer.stagingDirectoryUrl],
    ] as const) {
      if (url !== undefined && plainHttpElsewhere(url)) {
        warnings.push({
          path: `${at}.${field}`,
          message: `${url} is plain http:// to a host other than this one: anyone on the way can read and change what the CA answers (use https://)`,
        });
      }
    }
  });
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    warnings.push({
      path: 'environment',
      message:
        'NODE_TLS_REJECT_UNAUTHORIZED=0 is set: no TLS certificate is checked (the CA, DNS and cloud APIs, webhooks); trust a private CA with caBundle: instead',
    });
  }
  const listen = config.http ? parseListen(config.http.listen) : undefined;
  if (config.http?.allowRemoteReload && listen && !isLoopbackHost(listen.host)) {
    warnings.push({
      path: 'http.allowRemoteReload',
      message: `POST /reload has no authentication and http.listen ${config.http.listen} is reachable from other hosts: anyone who can reach it can make the agent re-read its config and secrets`,
    });
  }
  for (const [name, sink] of Object.entries(config.sinks)) {
    if (sink.type !== 'files' || (sink.keyMode & ~KEY_MODE_LIMIT) === 0) continue;
    const mode = `0${sink.keyMode.toString(8).padStart(3, '0')}`;
    const who =
      sink.keyMode & 0o004
        ? 'every user on the host can read'
        : sink.keyMode & 0o002
          ? 'every user on the host can change'
          : 'more than the owner and its group can reach';
    warnings.push({ path: `sinks.${name}.keyMode`, message: `${mode} is wider than 0640: ${who} the private key (privkey.pem)` });
  }
  return warnings;
}

function plainHttpElsewhere(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname);
  } catch {
    return false;
  }
}
