// The systemd units in examples/systemd: the directives operators rely on are there.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/cli.js';

function unit(name: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const line of readFileSync(path.join(REPO, 'examples/systemd', name), 'utf8').split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) directives.set(match[1]!, [...(directives.get(match[1]!) ?? []), match[2]!]);
  }
  return directives;
}

describe('examples/systemd', () => {
  it('certkeeper.service runs the agent, reloads with SIGHUP, and is hardened', () => {
    const service = unit('certkeeper.service');
    expect(service.get('ExecStart')?.[0]).toMatch(/certkeeper run --config \/etc\/certkeeper\/certkeeper\.yaml$/);
    expect(service.get('ExecStart')?.[0]).toMatch(/^\/usr\/bin\/env node --max-semi-space-size=4 \/usr\/bin\/certkeeper run /);
    expect(service.get('ExecReload')?.[0]).toContain('kill -HUP $MAINPID');
    expect(service.get('Type')?.[0]).toBe('simple');
    for (const [key, value] of [
      ['StateDirectory', 'certkeeper'],
      ['ConfigurationDirectory', 'certkeeper'],
      ['ProtectSystem', 'strict'],
      ['NoNewPrivileges', 'yes'],
      ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''],
    ]) {
      expect(service.get(key!)?.[0], key).toBe(value);
    }
    expect(service.get('ReadWritePaths')?.[0]).toBeTruthy();
    // Longer than the agent's shutdownTimeout (30 s) so a clean stop is never cut short.
    expect(Number.parseInt(service.get('TimeoutStopSec')![0]!, 10)).toBeGreaterThan(30);
  });
  it('the one-shot service and its timer run `renew` twice a day at a random minute', () => {
    expect(unit('certkeeper-renew.service').get('ExecStart')?.[0]).toMatch(/certkeeper renew --config /);
    expect(unit('certkeeper-renew.service').get('Type')?.[0]).toBe('oneshot');
    const timer = unit('certkeeper-renew.timer');
    expect(timer.get('OnCalendar')?.[0]).toBe('*-*-* 00,12:00:00');
    expect(timer.get('RandomizedDelaySec')?.[0]).toBeTruthy();
    expect(timer.get('Persistent')?.[0]).toBe('true');
  });
});
