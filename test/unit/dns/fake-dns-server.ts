// A scriptable DNS server on loopback (UDP and TCP on one port) for unit tests of the client:
// the handler sees each decoded request and returns a response packet, raw bytes, or nothing
// (no answer, to provoke a timeout), or a list of them sent one after another (decoys first).

import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';

export type Transport = 'udp' | 'tcp';
type Reply = Packet | Buffer;
export type Handler = (request: DecodedPacket, raw: Buffer, transport: Transport) => Reply | Reply[] | undefined;

export interface FakeDnsServer {
  address: string;
  requests: { packet: DecodedPacket; transport: Transport }[];
  close(): Promise<void>;
}

/** A response to `request` with the given rcode and records; echoes ID and question. */
export function reply(request: DecodedPacket, rcode: number, sections: Pick<Packet, 'answers' | 'authorities' | 'additionals'> = {}, extraFlags = 0): Packet {
  return {
    type: 'response',
    id: request.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | rcode | extraFlags,
    questions: request.questions,
    ...sections,
  };
}

export async function startFakeDns(handler: Handler, host: '127.0.0.1' | '::1' = '127.0.0.1'): Promise<FakeDnsServer> {
  const requests: FakeDnsServer['requests'] = [];
  const respond = (raw: Buffer, transport: Transport): Buffer[] => {
    const packet = dnsPacket.decode(raw);
    requests.push({ packet, transport });
    const out = handler(packet, raw, transport);
    if (out === undefined) return [];
    return (Array.isArray(out) ? out : [out]).map((one) => (Buffer.isBuffer(one) ? one : dnsPacket.encode(one)));
  };
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, host, () => resolve(udp.address().port));
    });
    const tcp = net.createServer((socket) => {
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
          const raw = buffer.subarray(2, 2 + buffer.readUInt16BE(0));
          buffer = buffer.subarray(2 + raw.length);
          for (const out of respond(raw, 'tcp')) {
            const length = Buffer.alloc(2);
            length.writeUInt16BE(out.length);
            socket.write(Buffer.concat([length, out]));
          }
        }
      });
      socket.on('error', () => {});
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, host, () => resolve(true));
    });
    if (!listening) {
      udp.close();
      if (attempt < 5) continue;
      throw new Error('could not bind a fake DNS server');
    }
    udp.on('message', (raw, rinfo) => {
      for (const out of respond(raw, 'udp')) udp.send(out, rinfo.port, rinfo.address);
    });
    return {
      address: host === '::1' ? `[::1]:${port}` : `${host}:${port}`,
      requests,
      close: async () => {
        udp.close();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
      },
    };
  }
}
