/**
 * A named mutex in Redis, for critical sections that span replicas (the read-modify-write of a
 * cosign `.att` tag, which the registry cannot do atomically). `SET key token NX PX ttl` to take it,
 * a compare-and-delete script to release it; the TTL frees a lock whose holder died. The same Redis
 * as the job queue, so a cluster that shares work also shares locks.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as IoRedis from 'ioredis';
import { ProvenantError } from '../errors.js';
import { redisOptionsFromUrl, type RedisConnectionSettings } from './redis-connection.js';

const releaseScript = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface RedisLockOptions extends RedisConnectionSettings {
  /** Key prefix; default `provenant:lock:`. */
  readonly prefix?: string;
  /** Lifetime of a lock whose holder vanished; default 30 s (longer than any tag update). */
  readonly ttlMs?: number;
  /** Give up waiting after this long (`transient` `LOCK_TIMEOUT`, the job retries); default 60 s. */
  readonly waitMs?: number;
  /** Poll interval while waiting; default 25 ms. */
  readonly pollMs?: number;
}

export interface RedisLock {
  /** Runs `fn` holding the lock `key`. */
  readonly lock: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
  close(): Promise<void>;
}

export function createRedisLock(options: RedisLockOptions): RedisLock {
  // ioredis is loaded when a lock is made (a Redis-backed controller), not when the queue room is imported.
  const { Redis } = createRequire(import.meta.url)('ioredis') as typeof IoRedis;
  const redis = new Redis({ ...redisOptionsFromUrl(options), maxRetriesPerRequest: 3, lazyConnect: false });
  redis.on('error', () => undefined); // reported through the failing commands
  const prefix = options.prefix ?? 'provenant:lock:';
  const ttlMs = options.ttlMs ?? 30_000;
  const waitMs = options.waitMs ?? 60_000;
  const pollMs = options.pollMs ?? 25;
  return {
    lock: async (key, fn) => {
      const name = prefix + key;
      const token = randomUUID();
      const deadline = Date.now() + waitMs;
      for (;;) {
        const got = await redis.set(name, token, 'PX', ttlMs, 'NX');
        if (got === 'OK') break;
        if (Date.now() > deadline) {
          throw new ProvenantError('transient', 'LOCK_TIMEOUT', `waited ${waitMs} ms for the lock on ${key}`, { context: { lock: key } });
        }
        await new Promise((r) => setTimeout(r, pollMs + Math.floor(Math.random() * pollMs)));
      }
      try {
        return await fn();
      } finally {
        await redis.eval(releaseScript, 1, name, token).catch(() => undefined);
      }
    },
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
