// One definition of the hook fields (src/core/exec-fields.ts), used by the exec DNS provider, the
// exec sink and the exec notifier: the same fields and limits, each kind's own default timeout.

import { describe, expect, it } from 'vitest';
import { dnsProviderConfigSchema } from '../../src/dns/schema.js';
import { notifyTargetSchema } from '../../src/observe/notify/schema.js';
import { sinkConfigSchema } from '../../src/sinks/schema.js';

const kinds = [
  { kind: 'DNS provider', parse: (raw: object) => dnsProviderConfigSchema.safeParse({ type: 'exec', ...raw }), timeout: 60_000 },
  { kind: 'sink', parse: (raw: object) => sinkConfigSchema.safeParse({ type: 'exec', ...raw }), timeout: 60_000 },
  { kind: 'notifier', parse: (raw: object) => notifyTargetSchema.safeParse({ type: 'exec', ...raw }), timeout: 30_000 },
];

describe.each(kinds)('the exec $kind', ({ parse, timeout }) => {
  it('fills the shared defaults, its own timeout included', () => {
    const result = parse({ command: ['/bin/true'] });
    expect(result.success).toBe(true);
    expect(result.data).toMatchObject({ command: ['/bin/true'], timeout, env: {}, inheritEnv: false });
    expect(result.data).not.toHaveProperty('cwd');
    expect(parse({ command: ['./hook.sh'], timeout: '5s', cwd: 'hooks', env: { TOKEN: 'x' }, inheritEnv: ['AWS_PROFILE'] }).data).toMatchObject({
      timeout: 5_000,
      cwd: 'hooks',
      env: { TOKEN: 'x' },
      inheritEnv: ['AWS_PROFILE'],
    });
  });

  it('refuses a shell string, an empty command, a timeout past a timer, an empty cwd and bad inherited names', () => {
    for (const bad of [
      { command: 'systemctl reload nginx' },
      { command: [] },
      { command: ['/bin/true'], timeout: '30d' },
      { command: ['/bin/true'], cwd: '' },
      { command: ['/bin/true'], inheritEnv: ['NOT-A-NAME'] },
      { command: ['/bin/true'], env: { X: 1 } },
    ]) {
      expect(parse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
