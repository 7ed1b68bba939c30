import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createRedisLock, type RedisLock } from '../../src/queue/index.js';
import { isProvenantError } from '../../src/errors.js';
import { startRedis, type RedisHandle } from '../support/services.js';

describe('Redis lock (cross-replica critical sections)', () => {
  let redis: RedisHandle;
  let a: RedisLock;
  let b: RedisLock;
  beforeAll(async () => {
    redis = await startRedis();
    a = createRedisLock({ redisUrl: redis.url });
    b = createRedisLock({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await redis.stop();
  });

  it('never lets two holders (on separate connections) into the same key at once', async () => {
    let inside = 0;
    let maxInside = 0;
    let done = 0;
    const work = (lock: RedisLock) =>
      lock.lock('registry/repo:sha256-abc.att', async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setTimeout(r, 5));
        inside--;
        done++;
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => work(i % 2 === 0 ? a : b)));
    expect(done).toBe(20);
    expect(maxInside).toBe(1);
  });

  it('lets different keys proceed in parallel and releases on error', async () => {
    const boom = new Error('boom');
    // The holder's own error comes back unchanged (identity, not message text).
    await expect(a.lock('k1', async () => Promise.reject(boom))).rejects.toBe(boom);
    // released: b can take it at once
    expect(await b.lock('k1', async () => 'ok')).toBe('ok');
    let both = false;
    await a.lock('k2', async () => {
      await b.lock('k3', async () => {
        both = true;
      });
    });
    expect(both).toBe(true);
  });

  it('times out as a transient error when the lock is held too long', async () => {
    const short = createRedisLock({ redisUrl: redis.url, waitMs: 100 });
    try {
      const err = await a
        .lock('k4', () => short.lock('k4', async () => 'never'))
        .then(() => undefined)
        .catch((e: unknown) => e);
      expect(isProvenantError(err, 'LOCK_TIMEOUT')).toBe(true);
      expect((err as { kind: string }).kind).toBe('transient');
    } finally {
      await short.close();
    }
  });
});
