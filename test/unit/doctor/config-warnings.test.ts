// The doctor reports the config's warnings (weakened transport security) as WARN lines, which
// never fail it, and says so with one PASS line when there are none.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { doctorChecks } from '../../../src/doctor/index.js';
import { CONFIG_WARNINGS_CHECK, configWarningResults } from '../../../src/doctor/config-warnings.js';

const file = path.join(mkdtempSync(path.join(tmpdir(), 'ck-doctor-warn-')), 'certkeeper.yaml');
const text = (directory: string, extra = ''): string => `stateDir: ./state
acme: { directory: "${directory}" }
dns: {}
${extra}`;

describe('the config.security doctor check', () => {
  it('is one of the config-wide checks', () => {
    const config = parseConfig(text('https://127.0.0.1:9/dir'), file, { env: {} });
    expect(doctorChecks(config).map((c) => c.name)).toContain(CONFIG_WARNINGS_CHECK);
  });

  it('passes when nothing weakens transport security', async () => {
    const config = parseConfig(text('https://127.0.0.1:9/dir'), file, { env: {} });
    expect(configWarningResults(config)).toEqual([{ name: CONFIG_WARNINGS_CHECK, status: 'pass', message: expect.any(String) }]);
  });

  it('warns once per weakened setting, with its path', async () => {
    const config = parseConfig(
      text(
        'http://ca.example.test/dir',
        'http: { listen: "0.0.0.0:9107", allowRemoteReload: true }\nsinks:\n  f: { type: files, dir: "./tls/{cert}", keyMode: "0644" }\n',
      ),
      file,
      { env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' } },
    );
    const check = doctorChecks(config).find((c) => c.name === CONFIG_WARNINGS_CHECK)!;
    const results = await check.run({} as never);
    expect(results.map((r) => [r.status, r.message.split(':')[0]])).toEqual([
      ['warn', 'acme.directory'],
      ['warn', 'environment'],
      ['warn', 'http.allowRemoteReload'],
      ['warn', 'sinks.f.keyMode'],
    ]);
  });
});
