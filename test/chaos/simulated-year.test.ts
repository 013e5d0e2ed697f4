// A simulated year for 40 certificates (npm test); `npm run test:chaos` runs the 200-certificate year.
import { describe, it } from 'vitest';
import { simulateYear } from './simulated-year.js';

describe('a simulated year', () => {
  it('40 certificates, 30-day lifetimes, 10% failed orders, a 3-day DNS outage: nothing expires, every failure in the alert window is critical', async () => {
    await simulateYear(40);
  }, 120_000);
});
