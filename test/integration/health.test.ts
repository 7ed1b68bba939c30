import { describe, it, expect, afterAll } from 'vitest';
import { createMetrics, startHealthServer, type HealthServer } from '../../src/observability/index.js';

describe('metrics and health server', () => {
  let server: HealthServer | undefined;
  afterAll(async () => server?.close());

  it('serves Chains-named metrics, healthz and readyz', async () => {
    const metrics = createMetrics();
    let ready = false;
    server = await startHealthServer({ port: 0, host: '127.0.0.1', metrics, ready: () => ready });
    metrics.signCreated('taskrun');
    metrics.signingFailure('pipelinerun', 'storage');
    metrics.setConfigValid(false);
    const base = `http://127.0.0.1:${server.port}`;
    const body = await (await fetch(`${base}/metrics`)).text();
    expect(body).toMatch(/^watcher_taskrun_sign_created_total 1$/m);
    expect(body).toMatch(/^watcher_pipelinerun_signing_failures_total\{error_type="storage"\} 1$/m);
    expect(body).toMatch(/^watcher_taskrun_marked_signed_total 0$/m);
    expect(body).toMatch(/^provenant_config_valid 0$/m);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
