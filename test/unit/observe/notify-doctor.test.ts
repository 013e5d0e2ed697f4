// The doctor's notify.delivery check: targets that have delivered nothing since they were
// configured, read from the agent's saved notification state.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { loadConfigFile } from '../../../src/config/load.js';
import type { DoctorContext } from '../../../src/doctor/contract.js';
import { doctorChecks } from '../../../src/doctor/index.js';
import { notifyDeliveryCheck } from '../../../src/doctor/notify.js';
import { notifyStateIn } from '../../../src/observe/notify/snapshot.js';
import type { StateStore } from '../../../src/state/contract.js';
import { ManualClock } from '../../helpers/clock.js';

function context(notify: string): DoctorContext {
  const dir = mkdtempSync(path.join(tmpdir(), 'ck-notify-doctor-'));
  const file = path.join(dir, 'certkeeper.yaml');
  writeFileSync(
    file,
    `stateDir: ./state\nacme: { directory: "https://ca.test/directory" }\ndns: { corp: { type: exec, command: ["/bin/true"] } }\n${notify}\ncertificates: []\n`,
  );
  const config = loadConfigFile(file, { env: {} });
  return {
    config,
    store: {} as StateStore,
    clock: new ManualClock('2026-03-02T00:00:00Z'),
    logger: silentLogger,
    resolvers: [],
    dnsTimeoutMs: 1000,
    signal: new AbortController().signal,
  };
}

const NOTIFY = `notify:
  ops: { type: webhook, url: "https://alerts.example.com/in" }
  chat: { type: slack, url: "https://hooks.slack.com/services/T/B/x" }
  pager: { type: exec, command: ["/bin/true"] }`;

describe('doctor: notify.delivery', () => {
  it('is part of the doctor, and silent without notify targets', async () => {
    const ctx = context('');
    expect(doctorChecks(ctx.config).map((check) => check.name)).toContain('notify.delivery');
    expect(await notifyDeliveryCheck().run(ctx)).toEqual([]);
  });

  it('warns about a target that never delivered, with its last failure; passes the others', async () => {
    const ctx = context(NOTIFY);
    await notifyStateIn(ctx.config.stateDir).save({
      version: 2,
      targets: {
        ops: { since: '2026-03-01T00:00:00.000Z', lastDeliveredAt: '2026-03-01T10:00:00.000Z', open: {}, windows: {}, queue: [] },
        chat: {
          since: '2026-03-01T00:00:00.000Z',
          lastFailure: { at: '2026-03-01T09:00:00.000Z', error: 'notify target "chat" (slack): HTTP 404: no_service' },
          open: {},
          windows: {},
          queue: [],
        },
      },
    });
    const lines = await notifyDeliveryCheck().run(ctx);
    expect(lines.map((line) => [line.status, line.message])).toEqual([
      ['pass', 'ops: last delivered an alert at 2026-03-01T10:00:00.000Z'],
      [
        'warn',
        'chat: has delivered nothing since it was configured (2026-03-01T00:00:00.000Z); last failure at 2026-03-01T09:00:00.000Z: notify target "chat" (slack): HTTP 404: no_service; check it with: certkeeper notify test chat',
      ],
      ['pass', 'pager: no delivery record yet (the agent has not run with it); try: certkeeper notify test pager'],
    ]);
  });

  it('says so when the state cannot be read', async () => {
    const ctx = context(NOTIFY);
    const store = notifyStateIn(ctx.config.stateDir);
    await store.save({ version: 2, targets: {} });
    writeFileSync(path.join(ctx.config.stateDir, 'notify-state.json'), '{ not json');
    const lines = await notifyDeliveryCheck().run(ctx);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 'warn' });
    expect(lines[0]!.message).toContain('is not JSON');
  });
});
