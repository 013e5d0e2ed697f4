// Notify targets that have never delivered: the agent records per target when it was first
// configured and when it last delivered an alert (notify-state.json, notify/snapshot.ts). A target
// that has delivered nothing since may be pointing nowhere; `certkeeper notify test` tells at once.

import { describeError } from '../core/errors.js';
import path from 'node:path';
import { NOTIFY_STATE_FILE, notifyStateIn, notifyStateInStore, type DispatcherSnapshot } from '../observe/notify/snapshot.js';
import { pass, warn, type Check, type CheckResult, type DoctorContext } from './contract.js';

export function notifyDeliveryCheck(): Check {
  const name = 'notify.delivery';
  return {
    name,
    async run(ctx: DoctorContext): Promise<CheckResult[]> {
      const targets = Object.keys(ctx.config.daemon.notify);
      if (targets.length === 0) return [];
      let snapshot: DispatcherSnapshot | undefined;
      try {
        const source = ctx.store.agentData
          ? notifyStateInStore(ctx.store.agentData, path.join(ctx.config.stateDir, NOTIFY_STATE_FILE), () => ctx.clock.now())
          : notifyStateIn(ctx.config.stateDir, () => ctx.clock.now());
        snapshot = await source.load();
      } catch (error) {
        return [warn(name, `notification state unreadable (${describeError(error)}); the agent starts without it`)];
      }
      return targets.map((target) => {
        const saved = snapshot?.targets[target];
        if (!saved) return pass(name, `${target}: no delivery record yet (the agent has not run with it); try: certkeeper notify test ${target}`);
        const waiting = saved.queue.reduce((sum, item) => sum + item.events.length, 0);
        const queued = waiting > 0 ? `; ${saved.queue.length} alert(s) about ${waiting} event(s) waiting` : '';
        if (saved.lastDeliveredAt) return pass(name, `${target}: last delivered an alert at ${saved.lastDeliveredAt}${queued}`);
        const failure = saved.lastFailure ? `; last failure at ${saved.lastFailure.at}: ${saved.lastFailure.error}` : '';
        return warn(
          name,
          `${target}: has delivered nothing since it was configured (${saved.since})${failure}${queued}; check it with: certkeeper notify test ${target}`,
        );
      });
    },
  };
}
