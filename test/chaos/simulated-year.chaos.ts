// The simulated year at full size: 200 certificates (about 1.5 min; `npm run test:chaos`).
import { describe, it } from 'vitest';
import { simulateYear } from './simulated-year.js';

describe('a simulated year', () => {
  it('200 certificates, 30-day lifetimes, 10% failed orders, a 3-day DNS outage: nothing expires, every failure in the alert window is critical', async () => {
    await simulateYear(200);
  }, 600_000);
});
