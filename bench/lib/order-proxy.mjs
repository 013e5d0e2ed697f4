// A counting proxy in front of Pebble for the benches (plain JS; the tests' richer one is
// test/helpers/acme-proxy.ts): HTTPS on a free loopback port with its own throw-away CA, every
// request forwarded to Pebble with the proxy's Host (so the URLs Pebble answers with point back
// here), and every newOrder's identifiers recorded. What it counts is what the CA saw.

import https from 'node:https';
import path from 'node:path';
import { REPO } from './common.mjs';

export async function startOrderProxy(pebble) {
  const { freePort } = await import(path.join(REPO, 'dist/devstack/ports.js'));
  const port = await freePort();
  const { localTlsIdentity } = await import(path.join(REPO, 'dist/devstack/tls.js'));
  const identity = await localTlsIdentity({ caName: 'certkeeper bench ACME proxy CA', days: 2 });
  const upstream = new URL(pebble.directoryUrl);
  const agent = new https.Agent({ ca: pebble.caBundlePem, keepAlive: true });
  const host = `127.0.0.1:${port}`;
  let newOrderPath;
  /** One entry per newOrder: its identifiers. */
  const orders = [];

  const server = https.createServer({ cert: identity.certPem, key: identity.keyPem }, (request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      if (request.method === 'POST' && request.url === newOrderPath) {
        try {
          const payload = JSON.parse(Buffer.from(JSON.parse(body.toString('utf8')).payload, 'base64url').toString('utf8'));
          orders.push(payload.identifiers.map((identifier) => identifier.value));
        } catch {
          orders.push([]); // counted all the same: the CA got an order it may reject
        }
      }
      const upstreamRequest = https.request(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          path: request.url,
          method: request.method,
          headers: { ...request.headers, host, 'x-forwarded-proto': 'https' },
          agent,
        },
        (answer) => {
          const parts = [];
          answer.on('data', (chunk) => parts.push(chunk));
          answer.on('end', () => {
            let data = Buffer.concat(parts);
            if (request.method === 'GET' && request.url === upstream.pathname && answer.statusCode === 200) {
              const directory = JSON.parse(data.toString('utf8'));
              if (directory.newOrder) newOrderPath = new URL(directory.newOrder).pathname;
              data = Buffer.from(JSON.stringify(directory));
            }
            const headers = { ...answer.headers, 'content-length': String(data.length) };
            delete headers['transfer-encoding'];
            delete headers.connection;
            response.writeHead(answer.statusCode ?? 502, headers);
            response.end(data);
          });
        },
      );
      upstreamRequest.on('error', (error) => {
        response.writeHead(502, { 'content-type': 'application/problem+json' });
        response.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:serverInternal', detail: `proxy: ${error.message}`, status: 502 }));
      });
      upstreamRequest.end(body);
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  // Learn newOrder's path before the first client asks.
  await new Promise((resolve, reject) =>
    https.get(`https://${host}${upstream.pathname}`, { ca: identity.caPem }, (r) => r.resume().on('end', resolve)).on('error', reject),
  );
  return {
    directoryUrl: `https://${host}${upstream.pathname}`,
    caBundlePem: identity.caPem,
    orders,
    /** How many newOrder requests named `domain`. */
    ordersFor: (domain) => orders.filter((identifiers) => identifiers.includes(domain)).length,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
