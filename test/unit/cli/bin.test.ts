/**
 * bin/provenant.mjs: which code it runs (dist/ only when no source file is newer; the sources through
 * tsx otherwise, or when PROVENANT_FROM_SOURCE=1; dist/ alone in the image), and its refusal of a
 * Node older than 22. Checked on a throwaway package root holding a copy of the bin, a stand-in
 * dist/cli/main.js and src/cli/main.ts that print which one ran, and a link to node_modules (tsx).
 */
import { describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..', '..', '..');

async function fakePackage(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'provenant-bin-'));
  await mkdir(path.join(dir, 'bin'));
  await mkdir(path.join(dir, 'dist', 'cli'), { recursive: true });
  await mkdir(path.join(dir, 'src', 'cli'), { recursive: true });
  await copyFile(path.join(root, 'bin', 'provenant.mjs'), path.join(dir, 'bin', 'provenant.mjs'));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  await writeFile(path.join(dir, 'dist', 'cli', 'main.js'), "process.stdout.write('dist');\n");
  await writeFile(path.join(dir, 'src', 'cli', 'main.ts'), "const from: string = 'source';\nprocess.stdout.write(from);\n");
  await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

async function setAge(file: string, secondsAgo: number): Promise<void> {
  const t = new Date(Date.now() - secondsAgo * 1000);
  await utimes(file, t, t);
}

async function ran(dir: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [path.join(dir, 'bin', 'provenant.mjs')], {
    env: { ...process.env, PROVENANT_FROM_SOURCE: '', ...env },
    timeout: 30_000,
  });
  return stdout;
}

/** A Node older than 22 on this machine (the Debian one is 20), if any. */
function oldNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    try {
      const major = Number(execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0]);
      if (major < 22) return candidate;
    } catch {
      // not installed
    }
  }
  return undefined;
}

describe('bin/provenant.mjs', () => {
  it('runs dist/ when it is newer than every source file, the sources when one is newer or when asked', async () => {
    const dir = await fakePackage();
    try {
      const main = path.join(dir, 'src', 'cli', 'main.ts');
      const compiled = path.join(dir, 'dist', 'cli', 'main.js');
      await setAge(main, 60);
      await setAge(compiled, 10);
      expect(await ran(dir)).toBe('dist');
      expect(await ran(dir, { PROVENANT_FROM_SOURCE: '1' })).toBe('source');
      await setAge(main, 1); // edited after the build: dist/ is stale
      expect(await ran(dir)).toBe('source');
      await rm(path.join(dir, 'src'), { recursive: true }); // the container image: compiled code only
      expect(await ran(dir)).toBe('dist');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(oldNode() === undefined)('refuses a Node older than 22 in one line, exit code 2', async () => {
    const node = oldNode() ?? '';
    const failure = await run(node, [path.join(root, 'bin', 'provenant.mjs'), '--help']).then(
      () => undefined,
      (err: { code?: number; stdout?: string; stderr?: string }) => err,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stdout).toBe('');
    const lines = (failure?.stderr ?? '').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Node\.js 22/);
  });
});
