// The few API calls the kubernetes store makes, on Secrets, ConfigMaps, Leases and Events of one
// namespace, each answering in the store's terms: a missing object is `undefined`, a lost
// resourceVersion race or an existing name is `'conflict'` (the caller re-reads and decides),
// anything else a CertkeeperError (STATE_UNREACHABLE when it may pass: the network, 429, 5xx;
// STATE_IO otherwise, e.g. 403 when the Role lacks a verb). These verbs, and no others, are what
// the chart's Role grants: get, list, watch, create, update; create on events.

import type { CoreV1Event, V1Lease } from '@kubernetes/client-node';
import type { CertkeeperError } from '../../../core/errors.js';
import { isRetryableKubeError, kubeFailure, kubeStatus, type KubeClients } from '../../../kube/client.js';
import type { KubeObject } from './objects.js';
import type { ObjectKind } from './names.js';

export type Written<T> = T | 'conflict';

export class KubeApi {
  constructor(
    readonly clients: KubeClients,
    readonly namespace: string,
  ) {}

  async read(kind: ObjectKind, name: string): Promise<KubeObject | undefined> {
    const { namespace } = this;
    try {
      return kind === 'secrets'
        ? await this.clients.core.readNamespacedSecret({ name, namespace })
        : await this.clients.core.readNamespacedConfigMap({ name, namespace });
    } catch (error) {
      if (kubeStatus(error) === 404) return undefined;
      throw this.failure(error, `read ${this.where(kind, name)}`);
    }
  }

  /** Every object of `kind` with these labels, page by page; and the list's resourceVersion (where a watch starts). */
  async list(kind: ObjectKind, labelSelector: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const { namespace } = this;
    const items: KubeObject[] = [];
    let next: string | undefined;
    let resourceVersion = '';
    do {
      const request = { namespace, labelSelector, limit: 500, ...(next ? { _continue: next } : {}) };
      let page: { items: KubeObject[]; metadata?: { _continue?: string; resourceVersion?: string } };
      try {
        page = kind === 'secrets' ? await this.clients.core.listNamespacedSecret(request) : await this.clients.core.listNamespacedConfigMap(request);
      } catch (error) {
        throw this.failure(error, `list ${kind} in ${namespace}`);
      }
      items.push(...page.items);
      next = page.metadata?._continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (next);
    return { items, resourceVersion };
  }

  async create(kind: ObjectKind, body: KubeObject & { metadata: { name: string } }): Promise<Written<KubeObject>> {
    const { namespace } = this;
    try {
      return kind === 'secrets'
        ? await this.clients.core.createNamespacedSecret({ namespace, body: { apiVersion: 'v1', kind: 'Secret', ...body } })
        : await this.clients.core.createNamespacedConfigMap({ namespace, body: { apiVersion: 'v1', kind: 'ConfigMap', ...body } });
    } catch (error) {
      if (kubeStatus(error) === 409) return 'conflict';
      throw this.failure(error, `create ${this.where(kind, body.metadata.name)}`);
    }
  }

  /** Replaces the object only if it is still at `body.metadata.resourceVersion`; gone since (404) is a conflict too. */
  async replace(kind: ObjectKind, body: KubeObject & { metadata: { name: string; resourceVersion: string } }): Promise<Written<KubeObject>> {
    const { namespace } = this;
    const name = body.metadata.name;
    try {
      return kind === 'secrets'
        ? await this.clients.core.replaceNamespacedSecret({ name, namespace, body: { apiVersion: 'v1', kind: 'Secret', ...body } })
        : await this.clients.core.replaceNamespacedConfigMap({ name, namespace, body: { apiVersion: 'v1', kind: 'ConfigMap', ...body } });
    } catch (error) {
      if (kubeStatus(error) === 409 || kubeStatus(error) === 404) return 'conflict';
      throw this.failure(error, `update ${this.where(kind, name)}`);
    }
  }

  async readLease(name: string): Promise<V1Lease | undefined> {
    try {
      return await this.clients.coordination.readNamespacedLease({ name, namespace: this.namespace });
    } catch (error) {
      if (kubeStatus(error) === 404) return undefined;
      throw this.failure(error, `read Lease ${this.namespace}/${name}`);
    }
  }

  async createLease(body: V1Lease & { metadata: { name: string } }): Promise<Written<V1Lease>> {
    try {
      return await this.clients.coordination.createNamespacedLease({
        namespace: this.namespace,
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...body },
      });
    } catch (error) {
      if (kubeStatus(error) === 409) return 'conflict';
      throw this.failure(error, `create Lease ${this.namespace}/${body.metadata.name}`);
    }
  }

  async replaceLease(body: V1Lease & { metadata: { name: string; resourceVersion: string } }): Promise<Written<V1Lease>> {
    const name = body.metadata.name;
    try {
      return await this.clients.coordination.replaceNamespacedLease({
        name,
        namespace: this.namespace,
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...body },
      });
    } catch (error) {
      if (kubeStatus(error) === 409) return 'conflict';
      throw this.failure(error, `update Lease ${this.namespace}/${name}`);
    }
  }

  async createEvent(body: CoreV1Event): Promise<void> {
    try {
      await this.clients.core.createNamespacedEvent({ namespace: this.namespace, body: { apiVersion: 'v1', kind: 'Event', ...body } });
    } catch (error) {
      throw this.failure(error, `create an Event in ${this.namespace}`);
    }
  }

  where(kind: ObjectKind, name: string): string {
    return `${kind === 'secrets' ? 'Secret' : 'ConfigMap'} ${this.namespace}/${name}`;
  }

  failure(error: unknown, what: string): CertkeeperError {
    return kubeFailure(error, isRetryableKubeError(error) ? 'STATE_UNREACHABLE' : 'STATE_IO', what);
  }
}
