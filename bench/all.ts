/**
 * `npm run bench`: the benchmarks one after the other, each in its own process (so one's heap
 * and services never weigh on the next). Each prints its JSON line; a failing one is reported and
 * the rest still run. Exit 1 if any failed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { benchDir, repoRoot } from './lib/common.js';

const all = ['ceiling', 'backlog', 'latency', 'memory', 'restart', 'per-run-cost', 'cli'] as const;

function runOne(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(benchDir, `${name}.ts`)], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const names = only.length > 0 ? all.filter((n) => only.includes(n)) : all;
  const started = Date.now();
  let failed = 0;
  for (const name of names) {
    const t0 = Date.now();
    const code = await runOne(name);
    process.stderr.write(`bench: ${name} ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    if (code !== 0) failed++;
  }
  process.stderr.write(`bench: ${names.length - failed}/${names.length} benchmarks in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
