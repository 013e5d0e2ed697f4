// The command printed when a test needs a system package and cannot install it (not root): it must
// work when pasted, so each apt-get runs under sudo, not only the first.

import { expect, it } from 'vitest';
import { installCommand } from '../../../src/devstack/packages.js';

it('puts sudo before each apt-get for a non-root user, and none for root', () => {
  expect(installCommand(['pebble', 'bind9'], false)).toBe('sudo apt-get update && sudo apt-get install -y pebble bind9');
  expect(installCommand(['postgresql'], true)).toBe('apt-get update && apt-get install -y postgresql');
});
