// The Route53 stand-in itself: the wire behaviour the provider tests rely on, checked with raw
// HTTP (paths, status codes, XML error bodies) and with the real SDK, and its DNS side.

import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { query } from '../../../src/dns/wire/client.js';
import { RCODE, decodeMessage, encodeQuery, rdata } from '../../../src/dns/wire/message.js';
import { exchange } from '../../../src/dns/wire/transport.js';
import { awsTestEnv, startRoute53Standin, TEST_ACCESS_KEY_ID, type Route53Standin } from '../../helpers/aws/route53-standin.js';
import { txtAt } from '../../helpers/cli.js';
import { parseXml, textAt } from '../../helpers/aws/xml.js';

let r53: Route53Standin;
let sdk: Route53Client;

beforeAll(async () => {
  r53 = await startRoute53Standin({
    zones: [
      {
        name: 'example.com',
        id: 'ZEXAMPLE',
        records: [{ name: '_acme-challenge.alias.example.com', type: 'CNAME', ttl: 60, values: ['_acme-challenge.alias.validation.test'] }],
      },
      { name: 'example.com', id: 'ZPRIVATE', privateZone: true, records: [{ name: 'secret.example.com', type: 'TXT', ttl: 60, values: ['"hidden"'] }] },
      { name: 'a.example.com', id: 'ZA' },
      {
        name: 'validation.test',
        id: 'ZVALIDATION',
        records: [{ name: '_acme-challenge.alias.validation.test', type: 'TXT', ttl: 60, values: ['"delegated"'] }],
      },
      { name: 'zzz.test', id: 'ZZZ' },
    ],
  });
  const env = awsTestEnv();
  vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
  sdk = new Route53Client({
    endpoint: r53.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  sdk?.destroy();
  await r53?.stop();
  vi.unstubAllEnvs();
});

const SIGNED = { authorization: `AWS4-HMAC-SHA256 Credential=${TEST_ACCESS_KEY_ID}/20261122/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=00` };

function changeBody(changes: { action: string; name: string; ttl?: number; values: string[]; type?: string }[]): string {
  const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const items = changes
    .map(
      (change) =>
        `<Change><Action>${change.action}</Action><ResourceRecordSet><Name>${change.name}</Name><Type>${change.type ?? 'TXT'}</Type>${
          change.ttl === undefined ? '' : `<TTL>${change.ttl}</TTL>`
        }<ResourceRecords>${change.values.map((value) => `<ResourceRecord><Value>${escape(value)}</Value></ResourceRecord>`).join('')}</ResourceRecords></ResourceRecordSet></Change>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes>${items}</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`;
}

async function post(path: string, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${r53.endpoint}${path}`, { method: 'POST', headers: { ...SIGNED, 'content-type': 'application/xml' }, body });
  return { status: response.status, text: await response.text() };
}

function errorOf(text: string): { type?: string; code?: string; message?: string; requestId?: string } {
  const root = parseXml(text);
  expect(root.name).toBe('ErrorResponse');
  return {
    type: textAt(root, 'Error', 'Type'),
    code: textAt(root, 'Error', 'Code'),
    message: textAt(root, 'Error', 'Message'),
    requestId: textAt(root, 'RequestId'),
  };
}

describe('ChangeResourceRecordSets', () => {
  it('accepts the path with and without a trailing slash', async () => {
    const plain = await post('/2013-04-01/hostedzone/ZEXAMPLE/rrset', changeBody([{ action: 'UPSERT', name: 'plain.example.com.', ttl: 10, values: ['"1"'] }]));
    const slashed = await post(
      '/2013-04-01/hostedzone/ZEXAMPLE/rrset/',
      changeBody([{ action: 'UPSERT', name: 'slashed.example.com', ttl: 10, values: ['"2"'] }]),
    );
    expect([plain.status, slashed.status]).toEqual([200, 200]);
    const info = parseXml(slashed.text);
    expect(info.name).toBe('ChangeResourceRecordSetsResponse');
    expect(textAt(info, 'ChangeInfo', 'Id')).toMatch(/^\/change\/C\w+$/);
    expect(textAt(info, 'ChangeInfo', 'Status')).toBe('PENDING');
    expect(r53.recordSet('ZEXAMPLE', 'plain.example.com')?.values).toEqual(['"1"']);
    expect(r53.recordSet('ZEXAMPLE', 'slashed.example.com')?.values).toEqual(['"2"']);
  });

  it('applies a batch all or nothing', async () => {
    const result = await post(
      '/2013-04-01/hostedzone/ZEXAMPLE/rrset',
      changeBody([
        { action: 'UPSERT', name: 'batch.example.com', ttl: 10, values: ['"would-be"'] },
        { action: 'DELETE', name: 'missing.example.com', ttl: 10, values: ['"x"'] },
      ]),
    );
    expect(result.status).toBe(400);
    expect(errorOf(result.text)).toMatchObject({
      type: 'Sender',
      code: 'InvalidChangeBatch',
      message: "[Tried to delete resource record set [name='missing.example.com.', type='TXT'] but it was not found]",
      requestId: expect.any(String),
    });
    expect(r53.recordSet('ZEXAMPLE', 'batch.example.com')).toBeUndefined();
  });

  it('DELETEs only the exact current set, and CREATE never overwrites', async () => {
    r53.putRecordSet('ZEXAMPLE', { name: 'exact.example.com', type: 'TXT', ttl: 10, values: ['"a"', '"b"'] });
    for (const wrong of [
      { values: ['"a"'], ttl: 10 },
      { values: ['"a"', '"b"'], ttl: 11 },
      { values: ['"a"', '"c"'], ttl: 10 },
    ]) {
      const result = await post('/2013-04-01/hostedzone/ZEXAMPLE/rrset', changeBody([{ action: 'DELETE', name: 'exact.example.com', ...wrong }]));
      expect(errorOf(result.text).message).toContain('but the values provided do not match the current values');
    }
    const create = await post('/2013-04-01/hostedzone/ZEXAMPLE/rrset', changeBody([{ action: 'CREATE', name: 'exact.example.com', ttl: 10, values: ['"z"'] }]));
    expect(errorOf(create.text)).toMatchObject({ code: 'InvalidChangeBatch', message: expect.stringContaining('but it already exists') });
    const remove = await post(
      '/2013-04-01/hostedzone/ZEXAMPLE/rrset',
      changeBody([{ action: 'DELETE', name: 'exact.example.com', ttl: 10, values: ['"b"', '"a"'] }]),
    );
    expect(remove.status).toBe(200);
    expect(r53.recordSet('ZEXAMPLE', 'exact.example.com')).toBeUndefined();
  });

  it('rejects unquoted TXT values, names outside the zone and unknown zones, like Route53', async () => {
    const unquoted = await post(
      '/2013-04-01/hostedzone/ZEXAMPLE/rrset',
      changeBody([{ action: 'UPSERT', name: 'bare.example.com', ttl: 10, values: ['bare'] }]),
    );
    expect(errorOf(unquoted.text).message).toContain('Value should be enclosed in quotation marks');
    const outside = await post('/2013-04-01/hostedzone/ZEXAMPLE/rrset', changeBody([{ action: 'UPSERT', name: 'x.other.test', ttl: 10, values: ['"v"'] }]));
    expect(errorOf(outside.text).message).toContain('is not permitted in zone example.com.');
    const noTtl = await post('/2013-04-01/hostedzone/ZEXAMPLE/rrset', changeBody([{ action: 'UPSERT', name: 'x.example.com', values: ['"v"'] }]));
    expect([noTtl.status, errorOf(noTtl.text).code]).toEqual([400, 'InvalidInput']);
    const unknown = await post('/2013-04-01/hostedzone/ZNOPE/rrset', changeBody([{ action: 'UPSERT', name: 'x.example.com', ttl: 1, values: ['"v"'] }]));
    expect([unknown.status, errorOf(unknown.text).code]).toEqual([404, 'NoSuchHostedZone']);
  });

  it('answers injected faults with the right status and code, then recovers', async () => {
    r53.injectFault({ code: 'Throttling', count: 1 });
    r53.injectFault({ code: 'PriorRequestNotComplete', count: 1 });
    r53.injectFault({ code: 'InternalFailure', count: 1 });
    const body = changeBody([{ action: 'UPSERT', name: 'faulty.example.com', ttl: 10, values: ['"v"'] }]);
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const result = await post('/2013-04-01/hostedzone/ZEXAMPLE/rrset', body);
      seen.push(result.status === 200 ? 'ok' : `${result.status} ${errorOf(result.text).type} ${errorOf(result.text).code} ${errorOf(result.text).message}`);
    }
    expect(seen).toEqual([
      '400 Sender Throttling Rate exceeded',
      '400 Sender PriorRequestNotComplete The request was rejected because Route 53 was still processing a prior request.',
      '500 Receiver InternalFailure An internal error occurred.',
      'ok',
    ]);
  });

  it("answers an operation the key's IAM policy does not allow with 403 AccessDenied, and an unknown key with InvalidClientTokenId", async () => {
    const limited = 'AKIALIMITEDKEY';
    const signedBy = (key: string) => ({ authorization: SIGNED.authorization.replace(TEST_ACCESS_KEY_ID, key) });
    r53.setPermissions(limited, ['ListHostedZonesByName']);
    try {
      const listed = await fetch(`${r53.endpoint}/2013-04-01/hostedzonesbyname?dnsname=example.com`, { headers: signedBy(limited) });
      expect(listed.status).toBe(200);
      const denied = await fetch(`${r53.endpoint}/2013-04-01/hostedzone/ZEXAMPLE/rrset?name=example.com`, { headers: signedBy(limited) });
      expect(denied.status).toBe(403);
      expect(errorOf(await denied.text())).toMatchObject({
        type: 'Sender',
        code: 'AccessDenied',
        message: `User: arn:aws:iam::123456789012:user/${limited} is not authorized to perform: route53:ListResourceRecordSets on resource: arn:aws:route53:::hostedzone/ZEXAMPLE because no identity-based policy allows the route53:ListResourceRecordSets action`,
      });
    } finally {
      r53.setPermissions(limited, undefined);
    }
    const strict = await startRoute53Standin({ zones: [{ name: 'example.com' }], accessKeyIds: [TEST_ACCESS_KEY_ID] });
    try {
      const unknown = await fetch(`${strict.endpoint}/2013-04-01/hostedzonesbyname`, { headers: signedBy('AKIASTRANGER') });
      expect(unknown.status).toBe(403);
      expect(errorOf(await unknown.text()).code).toBe('InvalidClientTokenId');
    } finally {
      await strict.stop();
    }
  });

  it('refuses unsigned requests', async () => {
    const response = await fetch(`${r53.endpoint}/2013-04-01/hostedzonesbyname`);
    expect(response.status).toBe(403);
    expect(errorOf(await response.text()).code).toBe('MissingAuthenticationToken');
  });
});

describe('through the real SDK', () => {
  it('reports a change PENDING, then INSYNC after the delay', async () => {
    r53.setChangeDelay({ ms: 300 });
    try {
      const { ChangeInfo } = await sdk.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: '/hostedzone/ZEXAMPLE',
          ChangeBatch: {
            Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: 'delayed.example.com', Type: 'TXT', TTL: 10, ResourceRecords: [{ Value: '"later"' }] } }],
          },
        }),
      );
      expect(ChangeInfo?.Status).toBe('PENDING');
      expect((await sdk.send(new GetChangeCommand({ Id: ChangeInfo!.Id! }))).ChangeInfo?.Status).toBe('PENDING');
      expect(await txtAt(r53.dnsAddress, 'delayed.example.com')).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect((await sdk.send(new GetChangeCommand({ Id: ChangeInfo!.Id! }))).ChangeInfo?.Status).toBe('INSYNC');
      expect(await txtAt(r53.dnsAddress, 'delayed.example.com')).toEqual(['later']);
    } finally {
      r53.setChangeDelay({});
    }
  });

  it('lists zones by name in reversed-label order, starting at the name', async () => {
    const all = await sdk.send(new ListHostedZonesByNameCommand({}));
    expect(all.HostedZones?.map((zone) => `${zone.Name} ${zone.Id} ${zone.Config?.PrivateZone}`)).toEqual([
      'example.com. /hostedzone/ZEXAMPLE false',
      'example.com. /hostedzone/ZPRIVATE true',
      'a.example.com. /hostedzone/ZA false',
      'validation.test. /hostedzone/ZVALIDATION false',
      'zzz.test. /hostedzone/ZZZ false',
    ]);
    // Asking for a.example.com does not return example.com: it sorts before.
    const fromA = await sdk.send(new ListHostedZonesByNameCommand({ DNSName: 'a.example.com', MaxItems: 1 }));
    expect(fromA.HostedZones?.map((zone) => zone.Name)).toEqual(['a.example.com.']);
    expect(fromA).toMatchObject({ IsTruncated: true, NextDNSName: 'validation.test.', NextHostedZoneId: 'ZVALIDATION', MaxItems: 1 });
    const sub = await sdk.send(new ListHostedZonesByNameCommand({ DNSName: 'www.a.example.com', MaxItems: 5 }));
    expect(sub.HostedZones?.map((zone) => zone.Name)).toEqual(['validation.test.', 'zzz.test.']);
    const page = await sdk.send(new ListHostedZonesByNameCommand({ DNSName: 'example.com', HostedZoneId: 'ZPRIVATE', MaxItems: 1 }));
    expect(page.HostedZones?.map((zone) => zone.Id)).toEqual(['/hostedzone/ZPRIVATE']);
  });

  it('lists record sets starting at a name and type', async () => {
    r53.putRecordSet('ZA', { name: '_acme-challenge.a.example.com', type: 'TXT', ttl: 10, values: ['"one"', '"two"'] });
    r53.putRecordSet('ZA', { name: '*.a.example.com', type: 'TXT', ttl: 10, values: ['"wild"'] });
    const { ResourceRecordSets, IsTruncated, NextRecordName, NextRecordType } = await sdk.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: 'ZA', StartRecordName: '_acme-challenge.a.example.com', StartRecordType: 'TXT', MaxItems: 1 }),
    );
    expect(ResourceRecordSets).toEqual([
      { Name: '_acme-challenge.a.example.com.', Type: 'TXT', TTL: 10, ResourceRecords: [{ Value: '"one"' }, { Value: '"two"' }] },
    ]);
    expect({ IsTruncated, NextRecordName, NextRecordType }).toEqual({ IsTruncated: false, NextRecordName: undefined, NextRecordType: undefined });
    const all = await sdk.send(new ListResourceRecordSetsCommand({ HostedZoneId: 'ZA' }));
    expect(all.ResourceRecordSets?.map((set) => `${set.Name} ${set.Type}`)).toEqual([
      'a.example.com. NS',
      'a.example.com. SOA',
      '\\052.a.example.com. TXT',
      '_acme-challenge.a.example.com. TXT',
    ]);
  });

  it('gives the SDK errors it understands', async () => {
    const error = await sdk
      .send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: 'ZEXAMPLE',
          ChangeBatch: {
            Changes: [{ Action: 'DELETE', ResourceRecordSet: { Name: 'never.example.com', Type: 'TXT', TTL: 10, ResourceRecords: [{ Value: '"x"' }] } }],
          },
        }),
      )
      .catch((caught: unknown) => caught as Error & { $metadata: { httpStatusCode: number } });
    expect(error).toMatchObject({ name: 'InvalidChangeBatch', $metadata: { httpStatusCode: 400 } });
    const missing = await sdk.send(new GetChangeCommand({ Id: 'CNOPE' })).catch((caught: unknown) => caught as Error);
    expect(missing).toMatchObject({ name: 'NoSuchChange' });
  });
});

describe('DNS', () => {
  it('answers authoritatively from the public zones, over UDP and TCP', async () => {
    r53.putRecordSet('ZEXAMPLE', { name: '_acme-challenge.dns.example.com', type: 'TXT', ttl: 10, values: ['"first"', '"sec" "ond"'] });
    const response = await query(r53.dnsAddress, '_acme-challenge.dns.example.com', 'TXT', { recursionDesired: false });
    expect(response.rcode).toBe(RCODE.NOERROR);
    expect(await txtAt(r53.dnsAddress, '_acme-challenge.dns.example.com')).toEqual(['first', 'second']);
    const soa = await query(r53.dnsAddress, 'example.com', 'SOA', { recursionDesired: true });
    expect(soa.answers.map((answer) => answer.type)).toEqual(['SOA']);
    const nx = await query(r53.dnsAddress, 'nothing.example.com', 'TXT');
    expect(nx.rcode).toBe(RCODE.NXDOMAIN);
    expect(nx.authorities.map((answer) => [answer.type, answer.name])).toEqual([['SOA', 'example.com']]);
    // An empty non-terminal exists: NOERROR without data.
    const ent = await query(r53.dnsAddress, 'dns.example.com', 'TXT');
    expect([ent.rcode, ent.answers.length]).toEqual([RCODE.NOERROR, 0]);
    // The private zone's records are not on the internet; names outside every zone are refused.
    expect((await query(r53.dnsAddress, 'secret.example.com', 'TXT')).rcode).toBe(RCODE.NXDOMAIN);
    expect((await query(r53.dnsAddress, 'example.org', 'SOA')).rcode).toBe(RCODE.REFUSED);
  });

  it('follows a CNAME into another of its zones', async () => {
    const response = await query(r53.dnsAddress, '_acme-challenge.alias.example.com', 'TXT');
    expect(response.answers.map((answer) => [answer.type, answer.name, answer.type === 'TXT' ? String(rdata(answer)) : rdata(answer)])).toEqual([
      ['CNAME', '_acme-challenge.alias.example.com', '_acme-challenge.alias.validation.test'],
      ['TXT', '_acme-challenge.alias.validation.test', 'delegated'],
    ]);
    const cname = await query(r53.dnsAddress, '_acme-challenge.alias.example.com', 'CNAME');
    expect(cname.answers.map((answer) => answer.type)).toEqual(['CNAME']);
  });

  it('serves the TCP port too', async () => {
    const request = encodeQuery('_acme-challenge.alias.validation.test', 'TXT');
    const answer = decodeMessage(await exchange(r53.dnsAddress, request.bytes, { timeoutMs: 5000, tcp: true }));
    expect(answer.answers.map((record) => String(rdata(record)))).toEqual(['delegated']);
  });
});
