import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createCapturingLogger, createSilentLogger } from '../../src/observability/logger.js';
import { createBullQueue, type JobQueue, type RunJobData } from '../../src/queue/index.js';
import { freePort, startRedis, waitForPort, type RedisHandle, type ServiceHandle } from '../support/services.js';
import { defineQueueContract, deferred, runKey, waitFor } from '../unit/queue/queue-contract.js';

/** A Redis that requires a password (local to this file; services.ts has no option for it). */
async function startRedisWithPassword(password: string): Promise<ServiceHandle> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', password],
    { stdio: 'ignore' },
  );
  await waitForPort(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => stopChild(child),
  };
}

function stopChild(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** A TLS-only Redis with a throwaway self-signed certificate for `localhost` (test-only key, deleted after). */
async function startRedisWithTls(): Promise<ServiceHandle & { ca: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'provenant-redis-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'],
    { stdio: 'ignore' },
  );
  await waitForPort(port);
  const ca = await readFile(cert, 'utf8');
  return {
    port,
    ca,
    url: `rediss://localhost:${port}`,
    stop: async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let redis: RedisHandle;
let counter = 0;
const uniqueName = (): string => `test-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('BullMQ queue', () => {
  defineQueueContract(
    'bullmq',
    ({ name, ...opts }) => createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName: name ?? uniqueName(), ...opts }),
    { persistent: true },
  );

  it('shares the fresh signal: a replica with no fresh run of its own pauses its backlog while another works one', async () => {
    const queueName = uniqueName();
    const timing = { freshQuietMs: 200, backlogDrainMs: 600_000 };
    const a = await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName, ...timing });
    const b = await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName, ...timing });
    try {
      const gate = deferred();
      const held = deferred();
      let holding = true;
      let backlogStartsWhileHeld = 0;
      const backlogBy = { a: 0, b: 0 };
      const handler = (who: 'a' | 'b') => async (ctx: { data: RunJobData }) => {
        if (ctx.data.key.uid === 'long-fresh') {
          held.resolve();
          return gate.promise;
        }
        if (holding) backlogStartsWhileHeld++;
        backlogBy[who]++;
        await new Promise((r) => setTimeout(r, 5));
      };
      // Only `a` works when the long fresh run arrives, so it is `a`'s alone.
      a.process(handler('a'), { concurrency: 1 });
      await a.add(runKey('long-fresh'), { completedAt: Date.now() });
      await held.promise;
      b.process(handler('b'), { concurrency: 2 });
      for (let i = 0; i < 10; i++) await b.add(runKey(`old-${i}`), { completedAt: Date.now() - 3_600_000 });
      // Well past the quiet period: the running fresh job keeps the shared signal up.
      await new Promise((r) => setTimeout(r, 800));
      // One drain job at most, for both replicas together.
      expect(backlogStartsWhileHeld).toBeLessThanOrEqual(1);
      holding = false;
      gate.resolve();
      await waitFor(() => backlogBy.a + backlogBy.b === 10, 10_000);
      expect(backlogBy.b).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.close({ graceful: false }), b.close({ graceful: false })]);
    }
  });

  it('closes every Redis connection it opened, quietly', async () => {
    const admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: null });
    try {
      const clients = async (): Promise<number> => String(await admin.client('LIST')).trim().split('\n').length;
      const before = await clients();
      const { logger, lines } = createCapturingLogger('warn');
      const q = await createBullQueue({ logger, redisUrl: redis.url, queueName: uniqueName() });
      const done = deferred();
      q.process(async () => done.resolve(), { concurrency: 2 });
      await q.add(runKey('conn'));
      await done.promise;
      expect(await clients()).toBeGreaterThan(before);
      await q.close({ graceful: true, timeoutMs: 1_000 });
      await waitFor(async () => (await clients()) === before, 3_000);
      expect(lines).toEqual([]);
    } finally {
      admin.disconnect();
    }
  });

  it('dedups across producers sharing one queue', async () => {
    const queueName = uniqueName();
    const a = await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName });
    const b = await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName });
    try {
      expect(await a.add(runKey('shared'))).toBe('added');
      expect(await b.add(runKey('shared'))).toBe('duplicate');
      expect((await b.depth()).waiting).toBe(1);
    } finally {
      await Promise.all([a.close({ graceful: false }), b.close({ graceful: false })]);
    }
  });

  it('a worker that dies mid-job hands it back; another worker resumes it with its checkpoints', async () => {
    const queueName = uniqueName();
    const tuning = { lockDurationMs: 600, stalledIntervalMs: 300 };
    const first = await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName, ...tuning });
    const checkpointed = deferred();
    first.process(
      async (ctx) => {
        await ctx.checkpoint({ bundles: { img: { signed: true } } });
        checkpointed.resolve();
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        throw new Error('killed');
      },
      { concurrency: 1 },
    );
    await first.add(runKey('crash'));
    await checkpointed.promise;
    await first.close({ graceful: false });

    const second = await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName, ...tuning });
    try {
      const resumed = deferred<{ data: RunJobData; attempt: number }>();
      second.process(async (ctx) => resumed.resolve({ data: ctx.data, attempt: ctx.attempt }), { concurrency: 1 });
      const { data, attempt } = await resumed.promise;
      expect(data.key).toEqual(runKey('crash'));
      expect(data.checkpoints).toEqual({ bundles: { img: { signed: true } } });
      expect(attempt).toBe(1);
      await waitFor(async () => (await second.depth()).active === 0);
    } finally {
      await second.close({ graceful: true, timeoutMs: 2_000 });
    }
  });

  it('two workers on one queue never run the same uid concurrently, and run each once', async () => {
    const queueName = uniqueName();
    const queues: JobQueue[] = [];
    for (let i = 0; i < 2; i++) {
      queues.push(await createBullQueue({ logger: createSilentLogger(), redisUrl: redis.url, queueName }));
    }
    const running = new Set<string>();
    const runs = new Map<string, number>();
    const overlaps: string[] = [];
    const perWorker = [0, 0];
    queues.forEach((q, i) =>
      q.process(
        async (ctx) => {
          const uid = ctx.data.key.uid;
          if (running.has(uid)) overlaps.push(uid);
          running.add(uid);
          perWorker[i]!++;
          await new Promise((r) => setTimeout(r, 15));
          running.delete(uid);
          runs.set(uid, (runs.get(uid) ?? 0) + 1);
        },
        { concurrency: 4 },
      ),
    );
    try {
      for (let i = 0; i < 40; i++) await queues[i % 2]!.add(runKey(`w-${i}`));
      await waitFor(() => runs.size === 40, 10_000);
      expect(overlaps).toEqual([]);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect(perWorker[0]! + perWorker[1]!).toBe(40);
    } finally {
      await Promise.all(queues.map((q) => q.close({ graceful: true, timeoutMs: 2_000 })));
    }
  });

  describe('Redis with a password', () => {
    let secured: ServiceHandle;
    beforeAll(async () => {
      secured = await startRedisWithPassword('s3cret-test-only');
    });
    afterAll(async () => {
      await secured?.stop();
    });

    it('connects with the password in the URL and processes jobs', async () => {
      const q = await createBullQueue({
        logger: createSilentLogger(),
        redisUrl: `redis://:s3cret-test-only@127.0.0.1:${secured.port}`,
        queueName: uniqueName(),
      });
      try {
        const done = deferred<string>();
        q.process(async (ctx) => done.resolve(ctx.data.key.uid), { concurrency: 1 });
        await q.add(runKey('pw'));
        expect(await done.promise).toBe('pw');
      } finally {
        await q.close({ graceful: true, timeoutMs: 1_000 });
      }
    });

    it('connects with the password given separately', async () => {
      const q = await createBullQueue({
        logger: createSilentLogger(),
        redisUrl: secured.url,
        password: 's3cret-test-only',
        queueName: uniqueName(),
      });
      try {
        expect(await q.add(runKey('pw2'))).toBe('added');
      } finally {
        await q.close({ graceful: false });
      }
    });

    it('fails with QUEUE_AUTH_FAILED (config) on a wrong or missing password', async () => {
      for (const redisUrl of [`redis://:wrong@127.0.0.1:${secured.port}`, secured.url]) {
        const err: unknown = await createBullQueue({ logger: createSilentLogger(), redisUrl, connectTimeoutMs: 3_000 }).catch(
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: 'QUEUE_AUTH_FAILED', kind: 'config' });
        expect(JSON.stringify((err as { context: unknown }).context)).not.toContain('wrong');
      }
    });
  });

  describe('Redis over TLS (rediss://)', () => {
    let tlsRedis: ServiceHandle & { ca: string };
    beforeAll(async () => {
      tlsRedis = await startRedisWithTls();
    });
    afterAll(async () => {
      await tlsRedis?.stop();
    });

    it('connects with a private CA and processes jobs', async () => {
      const q = await createBullQueue({
        logger: createSilentLogger(),
        redisUrl: tlsRedis.url,
        tls: { ca: tlsRedis.ca },
        queueName: uniqueName(),
      });
      try {
        const done = deferred<string>();
        q.process(async (ctx) => done.resolve(ctx.data.key.uid), { concurrency: 1 });
        await q.add(runKey('tls'));
        expect(await done.promise).toBe('tls');
      } finally {
        await q.close({ graceful: true, timeoutMs: 1_000 });
      }
    });

    it('refuses a server certificate it cannot verify with QUEUE_TLS_FAILED (config), fast', async () => {
      const started = Date.now();
      await expect(
        createBullQueue({ logger: createSilentLogger(), redisUrl: tlsRedis.url, connectTimeoutMs: 5_000 }),
      ).rejects.toMatchObject({ code: 'QUEUE_TLS_FAILED', kind: 'config' });
      expect(Date.now() - started).toBeLessThan(4_000);
    });
  });

  it('fails with QUEUE_UNAVAILABLE (transient) when Redis does not answer', async () => {
    const port = await freePort();
    const started = Date.now();
    await expect(
      createBullQueue({ logger: createSilentLogger(), redisUrl: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500 }),
    ).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE', kind: 'transient' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('rejects a non-Redis URL with QUEUE_REDIS_URL_INVALID', async () => {
    await expect(createBullQueue({ logger: createSilentLogger(), redisUrl: 'http://127.0.0.1:1' })).rejects.toMatchObject({
      code: 'QUEUE_REDIS_URL_INVALID',
      kind: 'config',
    });
  });
});
