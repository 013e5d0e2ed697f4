// The status page as a person sees it, in headless Chromium, served by a real `certkeeper run`
// over Pebble and BIND: a valid certificate, one failing with backoff (a wrong TSIG secret), one
// expired (written into the state, renewing fails), one whose second sink fails (pending), and a
// watched endpoint whose intermediate expires first. Then `certkeeper report --html` writes the
// same page from the state with no agent, and the browser opens that file too.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { freePort } from '../../../src/devstack/ports.js';
import { startStack, type Stack } from '../../../src/devstack/stack.js';
import { launchChromium } from '../../helpers/browser.js';
import { makeCertificate, makeChain } from '../../helpers/certs.js';
import { REPO, runCli, workDir, writeConfig } from '../../helpers/cli.js';
import { killDaemons, startDaemon, until } from '../../helpers/daemon.js';
import { openFileStore } from '../../helpers/state.js';
import { startTlsServer, type TestServer } from '../../helpers/tls-server.js';

const DAY = 86_400_000;
/** A TSIG secret the DNS server does not know: the order fails, and this value must never be shown. */
const WRONG_SECRET = Buffer.from('ck-page-never-show-this-secret').toString('base64');
/** Screenshots land here (.tmp/ is ignored by git). */
const ARTEFACTS = path.join(REPO, '.tmp', 'status-page');

let stack: Stack;
let browser: Browser;
const servers: TestServer[] = [];
beforeAll(async () => {
  stack = await startStack();
  browser = await launchChromium();
}, 120_000);
afterEach(killDaemons);
afterAll(async () => {
  await browser?.close();
  for (const server of servers.splice(0)) await server.close();
  await stack?.stop();
});

interface Seen {
  console: string[];
  requests: string[];
}

function watch(page: Page): Seen {
  const seen: Seen = { console: [], requests: [] };
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') seen.console.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => seen.console.push(`pageerror: ${error.message}`));
  page.on('request', (request) => seen.requests.push(request.url()));
  return seen;
}

/** Each row's bar and now marker in screen pixels, with the dates the row carries. */
async function geometry(
  page: Page,
  list: string,
): Promise<
  {
    name: string;
    state: string;
    notBefore: string;
    notAfter: string;
    axisStart: string;
    axisEnd: string;
    svg: { x: number; width: number };
    bar: { x: number; width: number } | null;
    now: { x: number };
  }[]
> {
  return page.$$eval(`${list} > li.row`, (items) =>
    items.map((li) => {
      const ol = li.parentElement!;
      const svg = li.querySelector('svg.timeline')!.getBoundingClientRect();
      const bar = li.querySelector('rect.bar')?.getBoundingClientRect();
      const now = li.querySelector('line.now')!.getBoundingClientRect();
      return {
        name: li.getAttribute('data-name') ?? li.getAttribute('data-endpoint') ?? '',
        state: li.getAttribute('data-state') ?? '',
        notBefore: li.getAttribute('data-not-before') ?? '',
        notAfter: li.getAttribute('data-not-after') ?? '',
        axisStart: ol.getAttribute('data-axis-start') ?? '',
        axisEnd: ol.getAttribute('data-axis-end') ?? '',
        svg: { x: svg.x, width: svg.width },
        bar: bar ? { x: bar.x, width: bar.width } : null,
        now: { x: now.x + now.width / 2 },
      };
    }),
  );
}

describe('the status page in a real browser', () => {
  it('shows the failing certificate first with its error, bars that agree with the dates, no secret, nothing loaded from elsewhere, and fits 375 px', async () => {
    const dir = workDir(stack, 'ck-page-');
    const port = await freePort();
    const chain = makeChain({ domains: ['svc.example.test'], notAfter: new Date(Date.now() + 60 * DAY), intermediateNotAfter: new Date(Date.now() + 5 * DAY) });
    const tls = await startTlsServer(chain.material);
    servers.push(tls);
    writeFileSync(path.join(dir, 'root.pem'), chain.rootPem);
    // The expired certificate, as an agent that stopped renewing it left it.
    const store = await openFileStore(path.join(dir, 'state'), systemClock);
    await store.putCertificate(
      'old',
      makeCertificate({ domains: ['old.example.test'], notBefore: new Date(Date.now() - 100 * DAY), notAfter: new Date(Date.now() - 10 * DAY) }),
      { directoryUrl: stack.pebble.directoryUrl, issuedAt: new Date(Date.now() - 100 * DAY) },
    );
    await store.storage.close();

    const parts = {
      extra: `http: { listen: "127.0.0.1:${port}" }\nbackoff: [1h]\nwatch:\n  caBundle: ./root.pem\n  endpoints:\n    - { address: "${tls.address}", sni: svc.example.test, label: svc }`,
      dns: `  badkey:
    type: rfc2136
    server: ${stack.bind.address}
    tsigKeyName: ${stack.bind.tsig.keyName}
    tsigAlgorithm: ${stack.bind.tsig.algorithm}
    tsigSecret: "${WRONG_SECRET}"
    timeout: 2s`,
      sinks: `  flaky:\n    type: exec\n    command: [${JSON.stringify(process.execPath)}, -e, "process.exit(3)"]`,
      certificates: `  - { name: good, domains: [good.example.test], dns: bind, sinks: [files] }
  - { name: broken, domains: [broken.example.test], dns: badkey, sinks: [files] }
  - { name: old, domains: [old.example.test], dns: badkey, sinks: [files] }
  - { name: half, domains: [half.example.test], dns: bind, sinks: [files, flaky] }`,
    };
    const config = writeConfig(dir, stack, parts);
    const daemon = startDaemon(config);
    const base = `http://127.0.0.1:${port}`;
    type Row = {
      name: string;
      state: string;
      serial: string | null;
      pendingSinks: string[];
      nextAttemptAt: string | null;
      lastResult: { error: string | null } | null;
    };
    await until(
      'the four certificates in their states and the watched endpoint on the page',
      async () => {
        const rows = (await (await fetch(`${base}/status`)).json()) as Row[];
        const by = new Map(rows.map((r) => [r.name, r]));
        const ready =
          by.get('good')?.state === 'valid' &&
          by.get('broken')?.state === 'failing' &&
          by.get('broken')?.nextAttemptAt &&
          by.get('old')?.state === 'expired' &&
          by.get('old')?.lastResult &&
          by.get('half')?.serial &&
          by.get('half')?.pendingSinks.includes('flaky');
        return ready && (await (await fetch(`${base}/`)).text()).includes('data-endpoint="svc"') ? rows : undefined;
      },
      90_000,
      daemon,
    );

    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    const seen = watch(page);
    const response = await page.goto(`${base}/`);
    expect(response?.status()).toBe(200);

    // Worst first: the failing certificate leads, with its (redacted) error text, in the list and in "needs attention".
    const certRows = await geometry(page, 'section[aria-labelledby="certs-h"] ol.rows');
    expect(certRows[0]).toMatchObject({ name: 'broken', state: 'failing' });
    const firstRow = page.locator('section[aria-labelledby="certs-h"] li.row').first();
    await expect(firstRow.locator('.error').textContent()).resolves.toMatch(/\S/);
    const brokenError = (await firstRow.locator('.error').textContent())!;
    expect(await page.locator('.attention li').first().getAttribute('data-subject')).toBe('broken');
    expect(await page.locator('.attention li').first().textContent()).toContain('next try');
    expect(await page.locator('.attention').textContent()).toContain(brokenError);
    expect(await page.locator('.attention').textContent()).toContain('not yet deployed to flaky');
    expect(await page.locator('.attention').textContent()).toContain('the intermediate');

    // Each bar spans notBefore→notAfter and the now marker sits at now, on the row's shared axis.
    const now = Date.now();
    for (const row of [...certRows, ...(await geometry(page, 'section[aria-labelledby="ep-h"] ol.rows'))]) {
      const start = Date.parse(row.axisStart);
      const end = Date.parse(row.axisEnd);
      const px = (t: number): number => row.svg.x + ((Math.min(end, Math.max(start, t)) - start) / (end - start)) * row.svg.width;
      expect(Math.abs(row.now.x - px(now)), `now marker of ${row.name}`).toBeLessThan(3);
      if (!row.notAfter) {
        expect(row.bar, `${row.name} has no certificate, so no bar`).toBeNull();
        continue;
      }
      expect(row.bar, row.name).not.toBeNull();
      expect(Math.abs(row.bar!.x - px(Date.parse(row.notBefore))), `bar start of ${row.name}`).toBeLessThan(2);
      expect(Math.abs(row.bar!.x + row.bar!.width - px(Date.parse(row.notAfter))), `bar end of ${row.name}`).toBeLessThan(2);
    }
    const old = certRows.find((r) => r.name === 'old')!;
    expect(old.bar!.x + old.bar!.width).toBeLessThan(old.now.x); // expired: the bar ends before now

    // No secret in the HTML or the DOM.
    const html = await (await fetch(`${base}/`)).text();
    const dom = await page.content();
    for (const text of [html, dom]) {
      expect(text).not.toContain(WRONG_SECRET);
      expect(text).not.toContain(stack.bind.tsig.secret);
      expect(text).not.toContain('PRIVATE KEY');
    }

    // The detail view of the pending one: each sink and where it stands, an outcome strip.
    await page.goto(`${base}/?cert=half`);
    expect(await page.locator('table').first().textContent()).toMatch(/files.*yes/s);
    expect(await page.locator('table').first().textContent()).toMatch(/flaky.*pending/s);
    expect(await page.locator('.strip li').count()).toBeGreaterThan(0);
    expect(await page.content()).not.toContain(stack.bind.tsig.secret);

    // 375 px: nothing wider than the screen, and the first row still readable.
    const phone = await browser.newContext({ viewport: { width: 375, height: 800 }, deviceScaleFactor: 2 });
    const small = await phone.newPage();
    const smallSeen = watch(small);
    await small.goto(`${base}/`);
    expect(
      await small.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(375);
    expect(await small.locator('li.row').first().isVisible()).toBe(true);
    mkdirSync(ARTEFACTS, { recursive: true });
    await small.screenshot({ path: path.join(ARTEFACTS, 'status-page-375.png'), fullPage: true });
    await page.goto(`${base}/`);
    await page.screenshot({ path: path.join(ARTEFACTS, 'status-page.png'), fullPage: true });

    // Live: a certificate added by a reload appears on the open page without a reload of the page.
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    writeConfig(dir, stack, { ...parts, certificates: `${parts.certificates}\n  - { name: added, domains: [added.example.test], dns: bind, sinks: [files] }` });
    daemon.child.kill('SIGHUP');
    await page.locator('li.row[data-name="added"]').waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);

    // The inline script polls /status, and nothing else is requested, from nowhere else.
    await page.waitForRequest((request) => request.url() === `${base}/status`, { timeout: 30_000 });
    for (const s of [seen, smallSeen]) {
      expect(s.console).toEqual([]);
      expect(s.requests.filter((url) => !url.startsWith(`${base}/`))).toEqual([]);
    }
    await phone.close();
    await context.close();

    // The same page as a static file, with no agent running.
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    const file = path.join(dir, 'report.html');
    const report = await runCli(['--config', config, 'report', '--html', file]);
    expect(report.code, report.stderr).toBe(0);
    const reportHtml = readFileSync(file, 'utf8');
    expect(reportHtml).not.toContain(WRONG_SECRET);
    expect(reportHtml).not.toContain('<script');
    const offline = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const reportPage = await offline.newPage();
    const reportSeen = watch(reportPage);
    await reportPage.goto(`file://${file}`);
    expect((await geometry(reportPage, 'section[aria-labelledby="certs-h"] ol.rows'))[0]).toMatchObject({ name: 'broken', state: 'failing' });
    expect(await reportPage.locator('#cert-half table').first().textContent()).toMatch(/flaky.*pending/s);
    expect(await reportPage.locator('[aria-labelledby="ep-h"] li.row').count()).toBe(1);
    expect(reportSeen.console).toEqual([]);
    expect(reportSeen.requests).toEqual([`file://${file}`]);
    await offline.close();
  }, 180_000);
});
