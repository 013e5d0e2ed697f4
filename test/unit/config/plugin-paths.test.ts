// Each plugin type resolves its own relative paths beside the config file (config/plugin-paths.ts
// asks each entry's kind); the loader switches on no type.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { pluginSecretValues, resolvePluginPaths } from '../../../src/config/plugin-paths.js';
import { dnsProviderConfigSchema } from '../../../src/dns/schema.js';
import { notifySchema } from '../../../src/observe/notify/schema.js';
import { sinkConfigSchema } from '../../../src/sinks/schema.js';

const baseDir = '/etc/certkeeper';

describe('resolvePluginPaths', () => {
  const raw = {
    dns: {
      hook: dnsProviderConfigSchema.parse({ type: 'exec', command: ['./dns.sh'] }),
      placed: dnsProviderConfigSchema.parse({ type: 'exec', command: ['./dns.sh'], cwd: 'hooks' }),
      bind: dnsProviderConfigSchema.parse({ type: 'rfc2136', server: '127.0.0.1:53', tsigKeyName: 'k', tsigSecret: 'c2VjcmV0' }),
    },
    sinks: {
      files: sinkConfigSchema.parse({ type: 'files', dir: 'out/{cert}' }),
      absolute: sinkConfigSchema.parse({ type: 'files', dir: '/srv/tls/{cert}' }),
      reload: sinkConfigSchema.parse({ type: 'exec', command: ['./reload.sh'] }),
      secret: sinkConfigSchema.parse({ type: 'kubernetes-secret', namespace: 'web', kubeconfig: 'kube/config' }),
      incluster: sinkConfigSchema.parse({ type: 'kubernetes-secret', namespace: 'web' }),
      acm: sinkConfigSchema.parse({ type: 'acm', region: 'eu-west-1' }),
    },
    notify: notifySchema.parse({
      page: { type: 'exec', command: ['./page.sh'], cwd: '/opt/page' },
      hook: { type: 'webhook', url: 'https://alerts.example.test/in', headers: { Authorization: 'Bearer token-1', 'X-Team': 'ops' } },
      chat: { type: 'slack', url: 'https://hooks.slack.com/services/T/B/x' },
    }),
  };
  const resolved = resolvePluginPaths(raw, baseDir);

  it('makes each relative path absolute beside the config file, as its type says', () => {
    expect(resolved.dns.hook).toMatchObject({ cwd: baseDir });
    expect(resolved.dns.placed).toMatchObject({ cwd: path.join(baseDir, 'hooks') });
    expect(resolved.sinks.files).toMatchObject({ dir: path.join(baseDir, 'out/{cert}') });
    expect(resolved.sinks.absolute).toMatchObject({ dir: '/srv/tls/{cert}' });
    expect(resolved.sinks.reload).toMatchObject({ cwd: baseDir });
    expect(resolved.sinks.secret).toMatchObject({ kubeconfig: path.join(baseDir, 'kube/config') });
    expect(resolved.notify.page).toMatchObject({ cwd: '/opt/page' });
  });

  it('leaves entries without paths as they are, keeps names and order, and changes nothing it was given', () => {
    expect(resolved.dns.bind).toBe(raw.dns.bind);
    expect(resolved.sinks.acm).toBe(raw.sinks.acm);
    expect(resolved.sinks.incluster).toBe(raw.sinks.incluster);
    expect(resolved.notify.chat).toBe(raw.notify.chat);
    expect(Object.keys(resolved.sinks)).toEqual(Object.keys(raw.sinks));
    expect(raw.sinks.files).toMatchObject({ dir: 'out/{cert}' });
    expect(raw.dns.hook).not.toHaveProperty('cwd');
  });

  it('names the values a kind holds secret: webhook header values', () => {
    expect(pluginSecretValues(raw)).toEqual(['Bearer token-1', 'ops']);
  });
});

describe('the loader', () => {
  it('resolves plugin paths beside the config file and keeps webhook header values secret', () => {
    const config = parseConfig(
      `
stateDir: ./state
acme: { directory: "https://ca.test/directory", email: ops@example.com }
notify:
  hook: { type: webhook, url: "https://alerts.example.test/in", headers: { Authorization: "Bearer token-1" } }
  page: { type: exec, command: ["./page.sh"] }
dns: { corp: { type: exec, command: ["./dns.sh"], cwd: hooks } }
sinks:
  files: { type: files, dir: "./out/{cert}" }
  reload: { type: exec, command: ["./reload.sh"] }
certificates:
  - { name: www, domains: [example.com], dns: corp, sinks: [files, reload] }
`,
      path.join(baseDir, 'certkeeper.yaml'),
      { env: {} },
    );
    expect(config.dns.corp).toMatchObject({ cwd: path.join(baseDir, 'hooks') });
    expect(config.sinks.files).toMatchObject({ dir: path.join(baseDir, 'out/{cert}') });
    expect(config.sinks.reload).toMatchObject({ cwd: baseDir });
    expect(config.daemon.notify.page).toMatchObject({ cwd: baseDir });
    expect(config.secrets).toContain('Bearer token-1');
  });
});
