// `certkeeper healthcheck`: asks a running agent's /healthz whether it is alive, for a container's
// HEALTHCHECK or a monitoring probe. The address comes from the config's http.listen (or --url).
// With no http endpoint configured there is nothing to ask: that is success, so an image whose
// operator turned the endpoint off is not marked unhealthy for it.

import { EXIT_FAILED, EXIT_OK, loadConfig, type CommandIo, type GlobalOptions } from '../context.js';

/** How long /healthz may take: a live agent answers it from memory. */
const HEALTH_TIMEOUT_MS = 5_000;

/** The URL this host reaches an agent's endpoint at: a wildcard listen address means loopback. */
export function localEndpoint(listen: string, path: string): string {
  const host = listen.replace(/^0\.0\.0\.0(?=:)/, '127.0.0.1').replace(/^\[::\](?=:)/, '[::1]');
  return `http://${host}${path}`;
}

export async function healthcheckCommand(options: { url?: string }, global: GlobalOptions, io: CommandIo): Promise<number> {
  let url = options.url;
  if (!url) {
    const listen = loadConfig(global, io).daemon.http?.listen;
    if (!listen) {
      io.stdout.write('no http.listen in the config: no endpoint to check\n');
      return EXIT_OK;
    }
    url = localEndpoint(listen, '/healthz');
  }
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    const body = (await response.text()).trim().slice(0, 200);
    if (response.ok) {
      io.stdout.write(`${url}: ${body || response.status}\n`);
      return EXIT_OK;
    }
    io.stderr.write(`certkeeper: ${url} answered HTTP ${response.status}${body ? `: ${body}` : ''}\n`);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    io.stderr.write(`certkeeper: no agent answered at ${url} (${cause})\n`);
  }
  return EXIT_FAILED;
}
