/**
 * Real services for integration tests, started on free loopback ports and stopped after.
 * Each `start*` returns a handle with `stop()`; call it in `afterAll`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

export interface ServiceHandle {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

function requireBinary(bin: string, aptPackage: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    try {
      execFileSync('test', ['-x', path.join(dir, bin)]);
      return path.join(dir, bin);
    } catch {
      // try next
    }
  }
  throw new Error(`${bin} is not installed: apt-get install ${aptPackage} (.ci/run does this)`);
}

export interface RedisHandle extends ServiceHandle {
  /** Kill -9 and start again on the same port (empty data: Redis runs without persistence). */
  readonly process: ChildProcess;
}

export async function startRedis(): Promise<RedisHandle> {
  const bin = requireBinary('redis-server', 'redis-server');
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  await waitForPort(port);
  return { port, url: `redis://127.0.0.1:${port}`, process: child, stop: () => stopProcess(child) };
}

export interface RegistryHandle extends ServiceHandle {
  /** `127.0.0.1:<port>`, the registry host as image references spell it. */
  readonly host: string;
  readonly dir: string;
  /** The registry process (benchmarks read its CPU time from /proc). */
  readonly pid: number | undefined;
}

/**
 * CNCF Distribution (`docker-registry` from apt): no referrers API, so the tag fallback is exercised.
 * With `auth`, htpasswd basic auth is enabled (bcrypt entries, as Distribution requires).
 */
export async function startRegistry(options: { auth?: { username: string; password: string } } = {}): Promise<RegistryHandle> {
  const bin = requireBinary('docker-registry', 'docker-registry');
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'provenant-registry-'));
  let authBlock = '';
  if (options.auth) {
    const htpasswd = requireBinary('htpasswd', 'apache2-utils');
    const file = path.join(dir, 'htpasswd');
    execFileSync(htpasswd, ['-Bbc', file, options.auth.username, options.auth.password], { stdio: 'ignore' });
    authBlock = `auth:\n  htpasswd:\n    realm: provenant-test\n    path: ${file}\n`;
  }
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${path.join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${authBlock}`;
  const configFile = path.join(dir, 'config.yml');
  await writeFile(configFile, config);
  const child = spawn(bin, ['serve', configFile], { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    dir,
    pid: child.pid,
    stop: async () => {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
