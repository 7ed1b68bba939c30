/**
 * Shared helpers for the benchmarks: scale knobs from the environment, result files, percentiles,
 * and the controller child's resident memory. Benchmarks print one JSON line each and write
 * `bench/results/<name>.json`; nothing here asserts on time.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(benchDir, '..');

/** `BENCH_SCALE` (default 1) multiplies every run count; 0.05 is a quick smoke run. */
export function scale(): number {
  const v = Number(process.env['BENCH_SCALE'] ?? '1');
  return Number.isFinite(v) && v > 0 ? v : 1;
}

export function scaled(n: number, min = 1): number {
  return Math.max(min, Math.round(n * scale()));
}

export function envNumber(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new Error(`${name} must be a number`);
  return v;
}

export function machine(): { node: string; cpus: number; cpuModel: string; date: string; scale: number } {
  const list = cpus();
  return { node: process.version, cpus: list.length, cpuModel: list[0]?.model ?? 'unknown', date: new Date().toISOString(), scale: scale() };
}

/** Prints the figures as one JSON line and writes `bench/results/<name>.json`. */
export async function report(name: string, figures: Record<string, unknown>): Promise<void> {
  const out = { benchmark: name, ...figures, ...machine(), loadAverage: loadAverage() };
  const dir = process.env['BENCH_RESULTS_DIR'] ?? path.join(benchDir, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify(out, null, 2) + '\n');
  process.stdout.write(JSON.stringify(out) + '\n');
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** VmRSS of a process in MB (Linux `/proc`). */
export function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m?.[1] === undefined ? Number.NaN : Number(m[1]) / 1024;
}

/** User + system CPU seconds a process has used (`/proc/<pid>/stat`, clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (0-based after the command name)
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function loadAverage(): number[] {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(check: () => boolean, timeoutMs: number, what: string, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
