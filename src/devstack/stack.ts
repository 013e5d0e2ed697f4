// The local stack for integration tests and the demo: a BIND that accepts TSIG updates for the
// test zones, and a Pebble whose DNS-01 lookups go to that BIND. One object, one stop().

import { startBind, type BindServer, type BindTsig, type BindZoneSpec } from './bind.js';
import { startPebble, type PebbleInstance, type PebbleOptions } from './pebble.js';

/**
 * The zones served by default. `delegated.example.test` delegates its challenge name by CNAME
 * to another zone (the "validation zone" set-up): Pebble's recursive query to this BIND follows
 * the CNAME into `validation.test`, as a CA's resolver would.
 */
export const DEFAULT_STACK_ZONES: BindZoneSpec[] = [
  { name: 'example.test', records: ['_acme-challenge.delegated 60 IN CNAME _acme-challenge.delegated.validation.test.'] },
  { name: 'validation.test' },
];

export interface StackOptions {
  zones?: BindZoneSpec[];
  tsig?: Partial<BindTsig>;
  /** Everything Pebble takes except its DNS server, which is the stack's BIND. */
  pebble?: Omit<PebbleOptions, 'dnsServer'>;
}

export interface Stack {
  bind: BindServer;
  pebble: PebbleInstance;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const bind = await startBind({ zones: options.zones ?? DEFAULT_STACK_ZONES, ...(options.tsig ? { tsig: options.tsig } : {}) });
  let pebble: PebbleInstance;
  try {
    pebble = await startPebble({ ...options.pebble, dnsServer: bind.address });
  } catch (error) {
    await bind.stop();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    bind,
    pebble,
    stop: () => {
      stopped ??= Promise.allSettled([pebble.stop(), bind.stop()]).then((results) => {
        const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
        if (failed) throw failed.reason;
      });
      return stopped;
    },
  };
}
