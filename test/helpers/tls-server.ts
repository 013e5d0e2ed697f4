// Loopback TLS servers for probe and verification tests: serve a chosen certificate, switch it
// (a "reload"), or misbehave (accept and never answer, close mid-handshake), on free ports.

import net from 'node:net';
import tls from 'node:tls';
import type { CertificateMaterial } from '../../src/core/types.js';

export interface TestServer {
  port: number;
  address: string;
  close(): Promise<void>;
}

export interface TestTlsServer extends TestServer {
  /** Serve another certificate from now on (what a working reload does). */
  serve(material: CertificateMaterial): void;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

function track(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  return sockets;
}

export async function startTlsServer(material: CertificateMaterial): Promise<TestTlsServer> {
  const server = tls.createServer({ key: material.keyPem, cert: material.fullchainPem });
  server.on('tlsClientError', () => {});
  const sockets = track(server);
  const port = await listen(server);
  return {
    port,
    address: `127.0.0.1:${port}`,
    serve: (next) => server.setSecureContext({ key: next.keyPem, cert: next.fullchainPem }),
    close: closer(server, sockets),
  };
}

/** Accepts TCP connections and never says a word (a hung or blackholed service, on loopback). */
export async function startSilentServer(): Promise<TestServer> {
  const server = net.createServer(() => {});
  const sockets = track(server);
  const port = await listen(server);
  return { port, address: `127.0.0.1:${port}`, close: closer(server, sockets) };
}

/** Reads the ClientHello, then closes the connection: a handshake cut short. */
export async function startClosingServer(): Promise<TestServer> {
  const server = net.createServer((socket) => socket.once('data', () => socket.destroy()));
  const sockets = track(server);
  const port = await listen(server);
  return { port, address: `127.0.0.1:${port}`, close: closer(server, sockets) };
}

/**
 * A plaintext server that speaks just enough SMTP, IMAP or PostgreSQL to upgrade to TLS with
 * `material` (STARTTLS / SSLRequest).
 */
export async function startStartTlsServer(kind: 'smtp' | 'imap' | 'postgres', material: CertificateMaterial): Promise<TestServer> {
  const context = tls.createSecureContext({ key: material.keyPem, cert: material.fullchainPem });
  const upgrade = (socket: net.Socket): void => {
    socket.removeAllListeners('data');
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
    secure.on('error', () => {});
  };
  const server = net.createServer((socket) => {
    let buffer = '';
    if (kind === 'smtp') socket.write('220 mail.test ESMTP ready\r\n');
    if (kind === 'imap') socket.write('* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n');
    socket.on('data', (chunk: Buffer) => {
      if (kind === 'postgres') {
        if (chunk.length >= 8 && chunk.readUInt32BE(4) === 80877103) {
          socket.write('S');
          upgrade(socket);
        }
        return;
      }
      buffer += chunk.toString('latin1');
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (kind === 'smtp' && /^EHLO /i.test(line)) socket.write('250-mail.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
        else if (kind === 'smtp' && /^STARTTLS/i.test(line)) {
          socket.write('220 go ahead\r\n');
          upgrade(socket);
          return;
        } else if (kind === 'imap' && /^(\S+) STARTTLS/i.test(line)) {
          socket.write(`${line.split(' ')[0]} OK begin TLS\r\n`);
          upgrade(socket);
          return;
        }
      }
    });
  });
  const sockets = track(server);
  const port = await listen(server);
  return { port, address: `127.0.0.1:${port}`, close: closer(server, sockets) };
}
