// `npm run test:chaos`: the slow fault-injection runs (50 SIGKILL trials, the 200-certificate
// simulated year). The fast fault tests under test/chaos/*.test.ts run in `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 1_200_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
