import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { RedisOptions } from 'bullmq';
import { ProvenantError } from '../errors.js';

export interface RedisConnectionSettings {
  /** `redis://[user[:password]@]host[:port][/db]`, or `rediss://…` for TLS. */
  readonly redisUrl: string;
  /** Overrides the URL's password (e.g. read from a Secret, so the URL itself can live in a ConfigMap). */
  readonly password?: string;
  /** Extra TLS options for `rediss://` (a private `ca`, client `cert`/`key`, `servername`). */
  readonly tls?: TlsConnectionOptions;
  /** Give up connecting after this long (readiness). Default 10 s. */
  readonly connectTimeoutMs?: number;
}

/** `host:port` (never the credentials) for logs and error contexts. */
export function describeRedisUrl(redisUrl: string): string {
  try {
    const url = new URL(redisUrl);
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return '[unparseable]';
  }
}

/**
 * ioredis options from a Redis URL. `maxRetriesPerRequest: null` is what BullMQ workers require
 * (blocking commands must wait through reconnects instead of failing).
 */
export function redisOptionsFromUrl(settings: RedisConnectionSettings): RedisOptions {
  let url: URL;
  try {
    url = new URL(settings.redisUrl);
  } catch (cause) {
    throw new ProvenantError('config', 'QUEUE_REDIS_URL_INVALID', 'REDIS_URL is not a URL', {
      cause,
      context: { hint: 'use redis://host:6379 or rediss://host:6380 for TLS' },
    });
  }
  const safe = describeRedisUrl(settings.redisUrl);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ProvenantError('config', 'QUEUE_REDIS_URL_INVALID', `REDIS_URL scheme must be redis:// or rediss://`, {
      context: { url: safe },
    });
  }
  if (url.hostname === '') {
    throw new ProvenantError('config', 'QUEUE_REDIS_URL_INVALID', 'REDIS_URL has no host', { context: { url: safe } });
  }
  const dbPath = url.pathname.replace(/^\//, '');
  const db = dbPath === '' ? 0 : Number(dbPath);
  if (!Number.isInteger(db) || db < 0) {
    throw new ProvenantError('config', 'QUEUE_REDIS_URL_INVALID', 'REDIS_URL database must be a number', {
      context: { url: safe },
    });
  }
  const port = url.port === '' ? 6379 : Number(url.port);
  const options: RedisOptions = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db,
    maxRetriesPerRequest: null,
    connectTimeout: settings.connectTimeoutMs ?? 10_000,
  };
  const username = decodeURIComponent(url.username);
  const password = settings.password ?? decodeURIComponent(url.password);
  if (username !== '') options.username = username;
  if (password !== '') options.password = password;
  if (url.protocol === 'rediss:') options.tls = { servername: options.host, ...settings.tls };
  return options;
}
