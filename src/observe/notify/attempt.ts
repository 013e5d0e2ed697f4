// One delivery attempt under its deadline, shared by the dispatcher and `notify test`: a notifier
// that ignores its signal cannot hang a queue, and shutdown aborts what is in flight.

import { CertkeeperError } from '../../core/errors.js';
import type { Alert } from './alert.js';
import type { Notifier } from './contract.js';

export function attemptDelivery(notifier: Notifier, alert: Alert, timeoutMs: number, shutdown?: AbortSignal): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onShutdown: (() => void) | undefined;
  // The deadline is a real timer: it bounds I/O, like runCommand's timeout.
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new CertkeeperError('HOOK_TIMEOUT', `notify target "${notifier.name}" (${notifier.type}): no answer within ${timeoutMs} ms`, { retryable: true }));
      controller.abort();
    }, timeoutMs);
    onShutdown = () => {
      reject(new CertkeeperError('CANCELLED', `notify target "${notifier.name}": shutting down`));
      controller.abort();
    };
    if (shutdown?.aborted) onShutdown();
    else shutdown?.addEventListener('abort', onShutdown, { once: true });
  });
  const sent = Promise.resolve().then(() => notifier.send(alert, controller.signal));
  return Promise.race([sent, deadline]).finally(() => {
    clearTimeout(timer);
    if (onShutdown) shutdown?.removeEventListener('abort', onShutdown);
    // The loser of the race may still reject later; it has nobody to tell.
    sent.catch(() => {});
    deadline.catch(() => {});
  });
}
