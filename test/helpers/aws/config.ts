// Configs for tests that run the CLI against Pebble and the AWS stand-ins: Pebble's CA bundle in
// a fresh folder, the stand-in's DNS port as resolver, and the test's own dns:, sinks: and
// certificates: bodies.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PebbleInstance } from '../../../src/devstack/pebble.js';
import type { Route53Standin } from './route53-standin.js';

export interface AwsConfigParts {
  /** `dns:` entries, two-space indented (see `route53Provider`). */
  dns: string;
  /** `sinks:` entries; default: a files sink `files` at ./out/{cert}. */
  sinks?: string;
  /** `certificates:` items, two-space indented. */
  certificates: string;
  /** Folder name prefix under the OS temp folder. */
  prefix?: string;
}

export const FILES_SINK = '  files:\n    type: files\n    dir: ./out/{cert}';

/** Writes the config; returns its folder (the caller removes it) and path. */
export function writeAwsConfig(pebble: PebbleInstance, r53: Route53Standin, parts: AwsConfigParts): { dir: string; config: string } {
  const dir = mkdtempSync(path.join(tmpdir(), parts.prefix ?? 'ck-aws-'));
  writeFileSync(path.join(dir, 'pebble-ca.pem'), pebble.caBundlePem);
  const config = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    config,
    `stateDir: ./state
acme:
  directory: ${pebble.directoryUrl}
  email: ops@example.test
  caBundle: ./pebble-ca.pem
resolvers: ["${r53.dnsAddress}"]
dns:
${parts.dns}
sinks:
${parts.sinks ?? FILES_SINK}
certificates:
${parts.certificates}
`,
  );
  return { dir, config };
}

/** A route53 provider entry at the stand-in, propagation checked on its DNS port; `extra` lines are four-space indented. */
export function route53Provider(r53: Route53Standin, name: string, options: { region?: string; extra?: string } = {}): string {
  return `  ${name}:
    type: route53
    endpoint: ${r53.endpoint}
    region: ${options.region ?? 'us-east-1'}
    changeInterval: 100ms
    propagation: { nameservers: ["${r53.dnsAddress}"], timeout: 20s, interval: 200ms }
${options.extra ?? ''}`;
}
