import { describe, expect, it } from 'vitest';
import { describeRedisUrl, redisOptionsFromUrl } from '../../../src/queue/index.js';

describe('redisOptionsFromUrl', () => {
  it('parses redis:// with defaults', () => {
    expect(redisOptionsFromUrl({ redisUrl: 'redis://redis.provenant.svc' })).toEqual({
      host: 'redis.provenant.svc',
      port: 6379,
      db: 0,
      maxRetriesPerRequest: null,
      connectTimeout: 10_000,
    });
  });

  it('takes user, url-encoded password and database from the URL', () => {
    const o = redisOptionsFromUrl({ redisUrl: 'redis://bot:p%40ss@10.0.0.1:6380/2' });
    expect(o).toMatchObject({ host: '10.0.0.1', port: 6380, db: 2, username: 'bot', password: 'p@ss' });
    expect(o.tls).toBeUndefined();
  });

  it('a separate password overrides the URL one', () => {
    expect(redisOptionsFromUrl({ redisUrl: 'redis://:old@h', password: 'new' }).password).toBe('new');
  });

  it('enables TLS for rediss:// and passes extra TLS options', () => {
    const o = redisOptionsFromUrl({ redisUrl: 'rediss://cache.example.com:6380', tls: { ca: 'PEM' } });
    expect(o.tls).toEqual({ servername: 'cache.example.com', ca: 'PEM' });
  });

  it('accepts IPv6 hosts', () => {
    expect(redisOptionsFromUrl({ redisUrl: 'redis://[::1]:7000' })).toMatchObject({ host: '::1', port: 7000 });
  });

  for (const redisUrl of ['http://h:6379', 'not a url', 'redis://h/x', 'redis:///0']) {
    it(`rejects ${JSON.stringify(redisUrl)} with QUEUE_REDIS_URL_INVALID`, () => {
      expect(() => redisOptionsFromUrl({ redisUrl })).toThrow(
        expect.objectContaining({ code: 'QUEUE_REDIS_URL_INVALID', kind: 'config' }),
      );
    });
  }

  it('never puts the password into the error', () => {
    let thrown: unknown;
    try {
      redisOptionsFromUrl({ redisUrl: 'http://:hunter2@h:1' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'QUEUE_REDIS_URL_INVALID' });
    expect(JSON.stringify(thrown)).not.toContain('hunter2');
    expect(String((thrown as Error).message)).not.toContain('hunter2');
  });
});

describe('describeRedisUrl', () => {
  it('keeps scheme, host and db, drops credentials', () => {
    expect(describeRedisUrl('rediss://u:hunter2@h:6380/1')).toBe('rediss://h:6380/1');
    expect(describeRedisUrl('redis://:hunter2@h')).toBe('redis://h');
    expect(describeRedisUrl('::')).toBe('[unparseable]');
  });
});
