// `npm run demo`: the main job on an embedded default. Starts a local Pebble CA and a BIND that
// takes TSIG updates (both on free loopback ports), writes a config for them under ./demo,
// runs `certkeeper renew` (two certificates, one with an apex + wildcard pair), deploys them
// under ./demo/out, prints `status`, and stops both servers.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../cli/main.js';
import { startStack } from '../devstack/stack.js';
import { demoConfigText } from './config.js';

const DEMO_DIR = path.resolve('demo');
/** What the build writes beside dist/demo/ (package.json "build"). */
const SCHEMA_FILE = fileURLToPath(new URL('../certkeeper.schema.json', import.meta.url));

const RELOAD_HOOK = `// A deploy hook: certkeeper passes everything in CERTKEEPER_* environment variables.
import { appendFileSync } from 'node:fs';
const e = process.env;
appendFileSync(new URL('./out/reloads.log', import.meta.url),
  \`\${new Date().toISOString()} reload for \${e.CERTKEEPER_CERT_NAME} serial \${e.CERTKEEPER_SERIAL} (\${e.CERTKEEPER_DOMAINS}) -> \${e.CERTKEEPER_FULLCHAIN_PATH}\\n\`);
`;

async function run(): Promise<number> {
  process.stdout.write('certkeeper demo: starting a local Pebble CA and BIND on loopback...\n');
  await rm(DEMO_DIR, { recursive: true, force: true });
  await mkdir(path.join(DEMO_DIR, 'out'), { recursive: true, mode: 0o700 });
  // 90-day certificates, as Let's Encrypt issues them (Pebble's default is five years).
  const stack = await startStack({ pebble: { validityPeriodSeconds: 90 * 86_400 } });
  const stop = (): void => {
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  try {
    await writeFile(path.join(DEMO_DIR, 'pebble-ca.pem'), stack.pebble.caBundlePem);
    await writeFile(path.join(DEMO_DIR, 'tsig.secret'), `${stack.bind.tsig.secret}\n`, { mode: 0o600 });
    await writeFile(path.join(DEMO_DIR, 'reload-hook.mjs'), RELOAD_HOOK);
    const configFile = path.join(DEMO_DIR, 'certkeeper.yaml');
    await writeFile(
      configFile,
      demoConfigText({ directoryUrl: stack.pebble.directoryUrl, bindAddress: stack.bind.address, tsig: stack.bind.tsig }, DEMO_DIR, SCHEMA_FILE),
    );
    process.stdout.write(`Pebble ${stack.pebble.directoryUrl}, BIND ${stack.bind.address}; config ${path.relative(process.cwd(), configFile)}\n\n`);

    process.stdout.write('$ certkeeper renew\n');
    const renewed = await main(['--config', configFile, 'renew']);
    process.stdout.write('\n$ certkeeper status\n');
    await main(['--config', configFile, 'status']);
    process.stdout.write(
      `\nDeployed under ${path.relative(process.cwd(), path.join(DEMO_DIR, 'out'))}/ (www/ and api/: cert.pem chain.pem fullchain.pem privkey.pem); ` +
        `reload hook log: demo/out/reloads.log.\nTry: node dist/cli/main.js --config demo/certkeeper.yaml history\n`,
    );
    return renewed;
  } finally {
    process.off('SIGINT', stop);
    await stack.stop();
  }
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
