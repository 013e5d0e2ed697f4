// Free loopback ports for local servers (others may already use the usual ones).

import dgram from 'node:dgram';
import net from 'node:net';

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ port, address: host, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

function ephemeralTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const handedOut = new Set<number>();

/** A port free for TCP (and UDP when `udp` is true) on `host`, not handed out before by this process. */
export async function freePort(options: { host?: string; udp?: boolean } = {}): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeralTcpPort(host);
    if (handedOut.has(port)) continue;
    if (options.udp && !(await udpFree(port, host))) continue;
    if (!(await tcpFree(port, host))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found on ${host}`);
}
