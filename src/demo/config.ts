// The demo's config (`npm run demo`), for a local Pebble and BIND. Its first line names the
// config's JSON Schema the build writes (dist/certkeeper.schema.json), relative to the demo's
// folder, so an editor opening demo/certkeeper.yaml checks and completes it.

import path from 'node:path';

export interface DemoServers {
  directoryUrl: string;
  /** BIND's host:port. */
  bindAddress: string;
  tsig: { keyName: string; algorithm: string };
}

export function demoConfigText(servers: DemoServers, demoDir: string, schemaFile: string): string {
  const { directoryUrl, bindAddress, tsig } = servers;
  return `# yaml-language-server: $schema=${path.relative(demoDir, schemaFile)}
# Written by \`npm run demo\` for a local Pebble (${directoryUrl}) and BIND (${bindAddress}).
stateDir: ./state
acme:
  directory: ${directoryUrl}
  email: demo@example.test
  caBundle: ./pebble-ca.pem          # Pebble's own HTTPS certificate is signed by this CA
resolvers: ["${bindAddress}"]       # where CNAMEs on _acme-challenge are looked up
dns:
  local-bind:
    type: rfc2136
    server: ${bindAddress}
    tsigKeyName: ${tsig.keyName}
    tsigAlgorithm: ${tsig.algorithm}
    tsigSecretFile: ./tsig.secret    # secrets come from files or \${ENV}, never inline
    propagation: { nameservers: ["${bindAddress}"], timeout: 30s, interval: 250ms }
sinks:
  files:
    type: files
    dir: ./out/{cert}
  reload:
    type: exec                       # stands in for ["systemctl", "reload", "nginx"]
    command: [${JSON.stringify(process.execPath)}, ./reload-hook.mjs]
certificates:
  - name: www
    domains: [example.test, "*.example.test"]
    dns: local-bind
    sinks: [files, reload]
  - name: api
    domains: [api.example.test]
    dns: local-bind
    keyType: rsa-2048
    sinks: [files, reload]
`;
}
