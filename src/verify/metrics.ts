// Prometheus series for what is served, registered on the agent's own registry
// (AgentMetrics.registry): watched endpoints' expiry and health, and deploy verifications.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamEvent } from '../observe/stream.js';
import { earliestServedExpiry, type WatchResult } from '../core/endpoint-results.js';

const SERVING = { new: 1, old: 0, unreachable: -1 } as const;

export class ServedMetrics {
  private readonly expiration: Gauge<'endpoint'>;
  private readonly leafExpiration: Gauge<'endpoint'>;
  private readonly up: Gauge<'endpoint'>;
  private readonly healthy: Gauge<'endpoint'>;
  private readonly verifications: Counter<'name' | 'result'>;
  private readonly serving: Gauge<'name'>;
  private known = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.expiration = new Gauge({
      name: 'certkeeper_endpoint_expiration_timestamp_seconds',
      help: 'The earliest notAfter in the chain a watched endpoint serves (leaf and intermediates, as probe_ssl_earliest_cert_expiry), in Unix seconds (absent while unreachable).',
      labelNames: ['endpoint'],
      registers,
    });
    this.leafExpiration = new Gauge({
      name: 'certkeeper_endpoint_leaf_expiration_timestamp_seconds',
      help: 'notAfter of the leaf certificate a watched endpoint serves, in Unix seconds (absent while unreachable).',
      labelNames: ['endpoint'],
      registers,
    });
    this.up = new Gauge({
      name: 'certkeeper_endpoint_up',
      help: '1 when the last probe of a watched endpoint completed a TLS handshake, 0 otherwise.',
      labelNames: ['endpoint'],
      registers,
    });
    this.healthy = new Gauge({
      name: 'certkeeper_endpoint_healthy',
      help: '1 when a watched endpoint serves a trusted, unexpired certificate for its name outside the alert thresholds; 0 otherwise.',
      labelNames: ['endpoint'],
      registers,
    });
    this.verifications = new Counter({
      name: 'certkeeper_verifications_total',
      help: 'Deploy verifications of a certificate by result: success (every verify endpoint serves the new certificate) or failure.',
      labelNames: ['name', 'result'],
      registers,
    });
    this.serving = new Gauge({
      name: 'certkeeper_certificate_serving',
      help: 'What the verify endpoints served at the last verification: 1 the new certificate, 0 an old one, -1 unreachable.',
      labelNames: ['name'],
      registers,
    });
  }

  /** Sets the endpoint series from a watch round; endpoints no longer watched lose theirs. */
  updateEndpoints(results: readonly WatchResult[]): void {
    const names = new Set(results.map((r) => r.endpoint));
    for (const endpoint of this.known) {
      if (names.has(endpoint)) continue;
      for (const gauge of [this.expiration, this.leafExpiration, this.up, this.healthy]) gauge.remove({ endpoint });
    }
    this.known = names;
    for (const result of results) {
      const endpoint = result.endpoint;
      const earliest = earliestServedExpiry(result.chain);
      if (earliest) this.expiration.set({ endpoint }, Date.parse(earliest) / 1000);
      else this.expiration.remove({ endpoint });
      if (result.leaf) this.leafExpiration.set({ endpoint }, Date.parse(result.leaf.notAfter) / 1000);
      else this.leafExpiration.remove({ endpoint });
      this.up.set({ endpoint }, result.reachable ? 1 : 0);
      this.healthy.set({ endpoint }, result.ok ? 1 : 0);
    }
  }

  /** Counts deploy verifications from the agent's events (watched endpoints' events carry no `serving`). */
  onEvent(event: StreamEvent): void {
    if (event.type !== 'verified' && event.type !== 'verify_failed') return;
    if (event.serving === undefined) return;
    this.verifications.inc({ name: event.cert, result: event.type === 'verified' ? 'success' : 'failure' });
    const value = SERVING[event.serving as keyof typeof SERVING];
    if (value !== undefined) this.serving.set({ name: event.cert }, value);
  }
}
