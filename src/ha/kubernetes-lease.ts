// The LeaseStore on a coordination.k8s.io/v1 Lease: get, create, and replace with the
// resourceVersion that was read (409 = somebody else wrote first). Times are MicroTime: the API
// server wants exactly six fractional digits, which client-node's V1MicroTime writes.

import type { V1Lease } from '@kubernetes/client-node';
import { kubeFailure, kubeStatus, type KubeClients } from '../kube/client.js';
import type { LeaseRecord, LeaseStore, VersionedLease } from './leader-elector.js';

const LABELS = { 'app.kubernetes.io/managed-by': 'certkeeper' };

/** Builds the store on an opened connection; `V1MicroTime` comes from the loaded library. */
export function kubernetesLeaseStore(api: KubeClients, microTime: new (value: number) => Date, namespace: string, name: string): LeaseStore {
  const description = `Lease ${namespace}/${name}`;
  const toSpec = (record: LeaseRecord): V1Lease['spec'] => ({
    holderIdentity: record.holderIdentity ?? '',
    leaseDurationSeconds: record.leaseDurationSeconds,
    ...(record.acquireTime ? { acquireTime: new microTime(record.acquireTime.getTime()) } : {}),
    ...(record.renewTime ? { renewTime: new microTime(record.renewTime.getTime()) } : {}),
    leaseTransitions: record.leaseTransitions,
  });
  const fromLease = (lease: V1Lease): VersionedLease => ({
    record: {
      holderIdentity: lease.spec?.holderIdentity || undefined,
      leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 15,
      // client-node leaves unknown date formats as the string the server sent.
      acquireTime: toDate(lease.spec?.acquireTime),
      renewTime: toDate(lease.spec?.renewTime),
      leaseTransitions: lease.spec?.leaseTransitions ?? 0,
    },
    version: lease.metadata?.resourceVersion ?? '',
  });
  return {
    description,
    async get() {
      try {
        return fromLease(await api.coordination.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if (kubeStatus(error) === 404) return undefined;
        throw kubeFailure(error, 'INTERNAL', `read ${description}`);
      }
    },
    async create(record) {
      try {
        const body: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, labels: LABELS }, spec: toSpec(record) };
        return fromLease(await api.coordination.createNamespacedLease({ namespace, body }));
      } catch (error) {
        if (kubeStatus(error) === 409) return undefined;
        throw kubeFailure(error, 'INTERNAL', `create ${description}`);
      }
    },
    async update(record, version) {
      try {
        const body: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace, labels: LABELS, resourceVersion: version },
          spec: toSpec(record),
        };
        return fromLease(await api.coordination.replaceNamespacedLease({ name, namespace, body }));
      } catch (error) {
        if (kubeStatus(error) === 409) return undefined;
        throw kubeFailure(error, 'INTERNAL', `update ${description}`);
      }
    },
  };
}

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
