// Deploy records of agents gone for good (src/state/agent-seen.ts): the rule, one reason per
// test, then through the repositories on one folder shared by three agents, with a clock moved
// by hand across the 30 days.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { AGENT_GONE_AFTER_MS, agentOfDeployment, goneAgents, withoutAgents, type AgentSeen } from '../../../src/state/agent-seen.js';
import { emptyRecord } from '../../../src/state/contract.js';
import { openStateStore } from '../../../src/state/open.js';
import { ManualClock } from '../../helpers/clock.js';

const DAY = 86_400_000;
const at = (day: number): Date => new Date(Date.parse('2026-01-01T00:00:00Z') + day * DAY);
const seen = (first: number, last: number): AgentSeen => ({ firstSeenAt: at(first).toISOString(), lastSeenAt: at(last).toISOString() });

describe('which agents are gone', () => {
  it('names the agent of a local deploy record, none for a shared one', () => {
    expect(agentOfDeployment('web@host-a')).toBe('host-a');
    expect(agentOfDeployment('web@host.example.org')).toBe('host.example.org');
    expect(agentOfDeployment('acm')).toBeUndefined();
    expect(agentOfDeployment('web@')).toBeUndefined();
  });

  it('an agent seen within the period stays; one unseen for longer is gone', () => {
    const table = new Map([
      ['a', seen(0, 40)],
      ['b', seen(0, 11)],
      ['c', seen(0, 9)],
    ]);
    expect(AGENT_GONE_AFTER_MS).toBe(30 * DAY);
    expect([...goneAgents(['a', 'b', 'c'], table, at(40), 'a')]).toEqual(['c']);
  });

  it('the agent asking is never gone, however old its record', () => {
    expect([
      ...goneAgents(
        ['a'],
        new Map([
          ['a', seen(0, 0)],
          ['b', seen(0, 100)],
        ]),
        at(100),
        'a',
      ),
    ]).toEqual([]);
  });

  it('an agent without a record counts as seen when tracking began (the earliest first sighting)', () => {
    const table = new Map([['a', seen(10, 39)]]);
    expect([...goneAgents(['old'], table, at(39), 'a')]).toEqual([]); // 29 days since tracking began: an upgrade may still be rolling
    expect([...goneAgents(['old'], table, at(41), 'a')]).toEqual(['old']);
  });

  it('with no record at all nothing is known, and nobody is gone', () => {
    expect([...goneAgents(['b', 'c'], new Map(), at(1000), 'a')]).toEqual([]);
  });

  it('drops the gone agents’ entries only, keeping shared sinks and everyone else’s', () => {
    const deployed = { 'web@a': '01', 'web@c': '01', 'api@c': '02', acm: '01' };
    expect(withoutAgents(deployed, new Set(['c']))).toEqual({ 'web@a': '01', acm: '01' });
    expect(withoutAgents(deployed, new Set())).toBe(deployed);
    expect(withoutAgents(deployed, new Set(['z']))).toBe(deployed);
  });
});

describe('deploy records of gone agents, through the repositories', () => {
  async function fleet() {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ck-agent-seen-'));
    const clock = new ManualClock(at(0), false);
    const open = (agentId: string) =>
      openStateStore({ state: { type: 'file', dir: path.join(tmp, 'state'), lockTtl: 120_000 }, agentId, clock, logger: silentLogger });
    return { clock, a: await open('a'), b: await open('b') };
  }
  const record = (deployed: Record<string, string>) => ({ ...emptyRecord(), deployed });

  it('an agent records that it runs at most hourly, keeping its first sighting', async () => {
    const { clock, a } = await fleet();
    await a.markAgentSeen();
    const first = await a.storage.get('agents/a/seen');
    clock.advance(59 * 60_000);
    await a.markAgentSeen();
    expect((await a.storage.get('agents/a/seen'))?.version).toBe(first?.version);
    clock.advance(2 * 60_000);
    await a.markAgentSeen();
    expect(await a.agentData.get('seen')).toEqual({ firstSeenAt: at(0).toISOString(), lastSeenAt: new Date(at(0).getTime() + 61 * 60_000).toISOString() });
  });

  it('the next record written after 30 days drops the entries of agents unseen since, and of agents never seen, and keeps the rest', async () => {
    const { clock, a, b } = await fleet();
    await a.markAgentSeen();
    await b.markAgentSeen();
    const deployed = { 'web@a': '01', 'web@b': '01', 'web@retired': '01', acm: '01' };
    await a.putRecord('www', record(deployed));
    clock.set(at(29));
    await a.markAgentSeen();
    await a.putRecord('www', record(deployed));
    expect((await b.getRecord('www')).deployed).toEqual(deployed); // within the period: all kept

    clock.set(at(31));
    await a.markAgentSeen();
    await a.putRecord('www', record(deployed));
    // b was last seen on day 0; `retired` never, since tracking began on day 0.
    expect((await b.getRecord('www')).deployed).toEqual({ 'web@a': '01', acm: '01' });
  });

  it('an agent that ran after the writer last looked keeps its entries: the writer reads again before dropping', async () => {
    const { clock, a, b } = await fleet();
    await a.markAgentSeen();
    await b.markAgentSeen();
    clock.set(at(31));
    await a.markAgentSeen();
    await a.putRecord('api', record({ 'web@a': '01', 'web@other': '01' })); // a reads who ran when (b: day 0) and keeps it for an hour
    expect((await a.getRecord('api')).deployed).toEqual({ 'web@a': '01' });
    clock.advance(60_000);
    await b.markAgentSeen(); // b is back
    clock.advance(60_000);
    await a.putRecord('www', record({ 'web@a': '02', 'web@b': '02' }));
    expect((await a.getRecord('www')).deployed).toEqual({ 'web@a': '02', 'web@b': '02' });
  });
});
