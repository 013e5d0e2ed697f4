// The four Route53 operations the provider uses, over @aws-sdk/client-route-53. The SDK (and STS
// for roleArn) is imported here on first use only: a run that presents no challenge never loads it.

import type { ResourceRecordSet, Route53Client } from '@aws-sdk/client-route-53';
import type { Route53Config } from './schema.js';

export interface HostedZoneSummary {
  /** Bare id, `Z0123…`. */
  id: string;
  /** As Route53 returns it: `example.com.`. */
  name: string;
  privateZone: boolean;
}

export interface ZonePage {
  zones: HostedZoneSummary[];
  isTruncated: boolean;
  nextDnsName?: string | undefined;
  nextHostedZoneId?: string | undefined;
}

export interface RecordSetSummary {
  /** As Route53 returns it: trailing dot, `\052` for `*`. */
  name: string;
  type: string;
  ttl: number | undefined;
  values: string[];
  /** Weighted, latency, … sets carry one; the provider leaves those alone. */
  setIdentifier: string | undefined;
}

export interface TxtChange {
  action: 'CREATE' | 'UPSERT' | 'DELETE';
  name: string;
  ttl: number;
  values: string[];
}

export interface Route53Api {
  /** Without `dnsName`: every zone, from the first in reversed-label order. */
  listHostedZonesByName(input: { dnsName?: string | undefined; hostedZoneId?: string | undefined; maxItems: number }, signal?: AbortSignal): Promise<ZonePage>;
  listResourceRecordSets(input: { zoneId: string; startName: string; startType: 'TXT'; maxItems: number }, signal?: AbortSignal): Promise<RecordSetSummary[]>;
  changeTxt(zoneId: string, change: TxtChange, signal?: AbortSignal): Promise<{ changeId: string; status: string }>;
  /** One ChangeResourceRecordSets with many changes: all are applied, or none. */
  changeTxtBatch(zoneId: string, changes: readonly TxtChange[], signal?: AbortSignal): Promise<{ changeId: string; status: string }>;
  getChange(changeId: string, signal?: AbortSignal): Promise<{ status: string }>;
}

/** Per-request limits, so a silent endpoint fails the call instead of hanging the run. */
const CONNECTION_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 60_000;
/** Route53 is a global service; in the aws partition requests are signed for us-east-1. */
export const DEFAULT_REGION = 'us-east-1';

/** Builds the client: the SDK's default credential chain, or a role assumed on top of it. */
export async function createRoute53Api(config: Route53Config, sessionName: string): Promise<Route53Api> {
  const sdk = await import('@aws-sdk/client-route-53');
  const region = config.region ?? DEFAULT_REGION;
  let credentials: Awaited<ReturnType<typeof assumedRoleCredentials>> | undefined;
  if (config.roleArn !== undefined) credentials = await assumedRoleCredentials(config.roleArn, sessionName, region, config.stsEndpoint);
  const client: Route53Client = new sdk.Route53Client({
    region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(credentials === undefined ? {} : { credentials }),
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  });

  const changeTxtBatch: Route53Api['changeTxtBatch'] = async (zoneId, changes, signal) => {
    const output = await client.send(
      new sdk.ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Comment: 'certkeeper dns-01 challenge',
          Changes: changes.map((change) => ({
            Action: change.action,
            ResourceRecordSet: { Name: change.name, Type: 'TXT', TTL: change.ttl, ResourceRecords: change.values.map((Value) => ({ Value })) },
          })),
        },
      }),
      { abortSignal: signal },
    );
    return { changeId: (output.ChangeInfo?.Id ?? '').replace(/^\/?change\//, ''), status: output.ChangeInfo?.Status ?? 'PENDING' };
  };

  return {
    async listHostedZonesByName({ dnsName, hostedZoneId, maxItems }, signal) {
      const output = await client.send(
        new sdk.ListHostedZonesByNameCommand({
          ...(dnsName === undefined ? {} : { DNSName: dnsName }),
          ...(dnsName === undefined || hostedZoneId === undefined ? {} : { HostedZoneId: hostedZoneId }),
          MaxItems: maxItems,
        }),
        { abortSignal: signal },
      );
      return {
        zones: (output.HostedZones ?? []).map((zone) => ({
          id: (zone.Id ?? '').replace(/^\/?hostedzone\//, ''),
          name: zone.Name ?? '',
          privateZone: zone.Config?.PrivateZone === true,
        })),
        isTruncated: output.IsTruncated === true,
        nextDnsName: output.NextDNSName,
        nextHostedZoneId: output.NextHostedZoneId,
      };
    },
    async listResourceRecordSets({ zoneId, startName, startType, maxItems }, signal) {
      const output = await client.send(
        new sdk.ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: startName, StartRecordType: startType, MaxItems: maxItems }),
        { abortSignal: signal },
      );
      return (output.ResourceRecordSets ?? []).map((set: ResourceRecordSet) => ({
        name: set.Name ?? '',
        type: set.Type ?? '',
        ttl: set.TTL,
        values: (set.ResourceRecords ?? []).map((record) => record.Value ?? ''),
        setIdentifier: set.SetIdentifier,
      }));
    },
    changeTxt: (zoneId, change, signal) => changeTxtBatch(zoneId, [change], signal),
    changeTxtBatch,
    async getChange(changeId, signal) {
      const output = await client.send(new sdk.GetChangeCommand({ Id: changeId }), { abortSignal: signal });
      return { status: output.ChangeInfo?.Status ?? 'PENDING' };
    },
  };
}

async function assumedRoleCredentials(roleArn: string, sessionName: string, region: string, stsEndpoint: string | undefined) {
  const { fromTemporaryCredentials } = await import('@aws-sdk/credential-providers');
  return fromTemporaryCredentials({
    params: { RoleArn: roleArn, RoleSessionName: sessionName, DurationSeconds: 3600 },
    clientConfig: { region, ...(stsEndpoint === undefined ? {} : { endpoint: stsEndpoint }) },
  });
}
