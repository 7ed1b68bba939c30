import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics with Tekton Chains' names (`watcher_<kind>_…`), so existing dashboards and
 * alerts keep working, plus provenant's queue and config metrics.
 */
export type MetricKind = 'taskrun' | 'pipelinerun';
export const signingErrorTypes = ['payload_creation', 'marshal_payload', 'signing', 'storage', 'tlog'] as const;
export type SigningErrorType = (typeof signingErrorTypes)[number];

export interface Metrics {
  readonly registry: Registry;
  signCreated(kind: MetricKind): void;
  payloadUploaded(kind: MetricKind): void;
  payloadStored(kind: MetricKind): void;
  markedSigned(kind: MetricKind): void;
  signingFailure(kind: MetricKind, errorType: SigningErrorType): void;
  jobRetried(kind: MetricKind): void;
  observeJobSeconds(kind: MetricKind, outcome: 'signed' | 'failed' | 'skipped' | 'deferred' | 'retry', seconds: number): void;
  setQueueDepth(state: 'waiting' | 'active' | 'delayed' | 'failed', n: number): void;
  setConfigValid(valid: boolean): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const counters = new Map<string, Counter>();
  const counter = (name: string, help: string, labelNames: string[] = []): Counter => {
    let c = counters.get(name);
    if (!c) {
      c = new Counter({ name, help, labelNames, registers: [registry] });
      counters.set(name, c);
    }
    return c;
  };
  const perKind = (kind: MetricKind, suffix: string, help: string, labels: string[] = []) =>
    counter(`watcher_${kind}_${suffix}`, help, labels);
  for (const kind of ['taskrun', 'pipelinerun'] as const) {
    perKind(kind, 'sign_created_total', `Total number of signed messages for ${kind}s`);
    perKind(kind, 'payload_uploaded_total', `Total number of uploaded payloads for ${kind}s`);
    perKind(kind, 'payload_stored_total', `Total number of stored payloads for ${kind}s`);
    perKind(kind, 'marked_signed_total', `Total number of objects marked as signed for ${kind}s`);
    perKind(kind, 'signing_failures_total', `Total number of signing failures for ${kind}s`, ['error_type']);
  }
  const retries = new Counter({ name: 'provenant_job_retries_total', help: 'Job attempts that failed and were retried', labelNames: ['kind'], registers: [registry] });
  const latency = new Histogram({
    name: 'provenant_job_duration_seconds',
    help: 'Time from job start to outcome',
    labelNames: ['kind', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const depth = new Gauge({ name: 'provenant_queue_depth', help: 'Jobs in the queue by state', labelNames: ['state'], registers: [registry] });
  const configValid = new Gauge({ name: 'provenant_config_valid', help: '1 when the last chains-config update was valid', registers: [registry] });
  configValid.set(1);
  return {
    registry,
    signCreated: (k) => perKind(k, 'sign_created_total', '').inc(),
    payloadUploaded: (k) => perKind(k, 'payload_uploaded_total', '').inc(),
    payloadStored: (k) => perKind(k, 'payload_stored_total', '').inc(),
    markedSigned: (k) => perKind(k, 'marked_signed_total', '').inc(),
    signingFailure: (k, t) => perKind(k, 'signing_failures_total', '', ['error_type']).inc({ error_type: t }),
    jobRetried: (k) => retries.inc({ kind: k }),
    observeJobSeconds: (k, outcome, s) => latency.observe({ kind: k, outcome }, s),
    setQueueDepth: (state, n) => depth.set({ state }, n),
    setConfigValid: (v) => configValid.set(v ? 1 : 0),
  };
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `/metrics`, `/healthz` (process alive) and `/readyz` (watch synced and config loaded). */
export async function startHealthServer(options: {
  port: number;
  host?: string;
  metrics: Metrics;
  ready: () => boolean;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      options.metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(500);
          res.end();
        });
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const ok = options.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ready\n' : 'not ready\n');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const addr = server.address();
  const port = addr !== null && typeof addr === 'object' ? addr.port : options.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
