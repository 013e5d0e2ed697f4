// The acm sink's state as the agent keeps it (certs/<name>/data/<sink> in the state store, the
// repositories on FileStorage), damaged between two deploys: the renewal still re-imports into
// the one ARN (found again by its tag), no duplicate is imported, and the warning names the key.
// Through the real @aws-sdk/client-acm against the ACM stand-in on loopback.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Logger } from '../../../src/core/logger.js';
import type { CertificateMaterial } from '../../../src/core/types.js';
import { parseCertificate } from '../../../src/core/x509.js';
import { createAcmSink } from '../../../src/sinks/acm/index.js';
import { acmSinkSchema } from '../../../src/sinks/acm/schema.js';
import type { DeployRequest, Sink } from '../../../src/sinks/contract.js';
import { certificateDataKey } from '../../../src/state/codec.js';
import type { RepositoryStore } from '../../../src/state/repository-store.js';
import { startAcmStandin, TEST_AWS_ENV, type AcmStandin } from '../../helpers/aws/acm-standin.js';
import { makeCertificate } from '../../helpers/certs.js';
import { ManualClock } from '../../helpers/clock.js';
import { openFileStore } from '../../helpers/state.js';

const DAY = 86_400_000;
const REGION = 'eu-west-1';
const SINK = 'alb';

beforeAll(() => {
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']) delete process.env[name];
  Object.assign(process.env, TEST_AWS_ENV);
});

let tmp: string;
let acm: AcmStandin;
let clock: ManualClock;
let store: RepositoryStore;
let warnings: { obj: Record<string, unknown>; msg: string | undefined }[];

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ck-acm-state-'));
  clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  acm = await startAcmStandin({ region: REGION, now: () => clock.now() });
  store = await openFileStore(path.join(tmp, 'state'), clock);
  warnings = [];
});
afterEach(async () => {
  await acm.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

function logger(): Logger {
  const ignore = (): void => {};
  const self: Logger = {
    trace: ignore,
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (obj: Record<string, unknown> | string, msg?: string) => {
      warnings.push(typeof obj === 'string' ? { obj: {}, msg: obj } : { obj, msg });
    },
    child: () => self,
  };
  return self;
}

/** The sink as cli/wiring.ts builds it: its state is the store's data for the certificate. */
function sink(): Sink {
  const config = acmSinkSchema.parse({ type: 'acm', region: REGION, endpoint: acm.endpoint });
  return createAcmSink(config, {
    name: SINK,
    clock,
    logger: logger(),
    state: {
      get: (cert) => store.getSinkState(cert, SINK),
      put: (cert, data) => store.putSinkState(cert, SINK, data),
      where: (cert) => certificateDataKey(cert, SINK),
    },
  });
}

function request(material: CertificateMaterial): DeployRequest {
  const info = parseCertificate(material.certPem);
  const dir = '/state/certs/www';
  return {
    certName: 'www',
    domains: info.domains,
    serial: info.serial,
    notAfter: info.notAfter,
    material,
    paths: { cert: `${dir}/cert.pem`, chain: `${dir}/chain.pem`, fullchain: `${dir}/fullchain.pem`, key: `${dir}/privkey.pem` },
  };
}

const certificate = (): CertificateMaterial => makeCertificate({ domains: ['example.com'], notBefore: new Date(clock.now().getTime() - 60_000), days: 90 });

it.each([
  ['a foreign shape (an ARN that is none)', async () => store.putSinkState('www', SINK, { certificateArn: 'arn:aws:acm:somewhere', region: REGION })],
  ['a value that is not JSON', async () => store.storage.put(`certs/www/data/${SINK}`, new TextEncoder().encode('{"certificateArn": "arn:aws:acm:eu-'))],
])('%s: the renewal is re-imported into the ARN found by its tag, no duplicate, and the state is written afresh', async (_what, damage) => {
  await sink().deploy(request(certificate()));
  const arn = acm.certificates()[0]!.arn;
  await damage();

  clock.advance(60 * DAY);
  const renewed = certificate();
  const result = await sink().deploy(request(renewed));

  expect(result.detail).toBe(`re-imported into ${arn}`);
  expect(acm.certificates()).toHaveLength(1);
  expect(acm.certificate(arn)!.importCount).toBe(2);
  expect(await store.getSinkState('www', SINK)).toMatchObject({ certificateArn: arn, region: REGION, serial: parseCertificate(renewed.certPem).serial });
  expect(warnings).toHaveLength(1);
  expect(JSON.stringify(warnings[0])).toContain(`certs/www/data/${SINK}`);
  expect(JSON.stringify(warnings[0])).not.toContain('arn:aws:acm:eu-');
});
