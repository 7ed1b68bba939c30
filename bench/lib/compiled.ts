/**
 * The benchmark controller (bench/controller-entry.ts) compiled the way the product ships: the same
 * esbuild bundle as `npm run build` (scripts/build.mjs), written under node_modules/.cache so the
 * packages it keeps external resolve. Figures of memory and start-up are then those of compiled
 * code, not of TypeScript transpiled by tsx at load.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './common.js';

export function compileControllerEntry(): string {
  // BENCH_COMPILE_OUTDIR (relative to the repository): worktrees sharing one node_modules keep apart.
  const outdir = process.env['BENCH_COMPILE_OUTDIR'] ?? path.join('node_modules', '.cache', 'provenant-bench', 'controller');
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--entry', 'controller-entry=bench/controller-entry.ts', '--outdir', outdir], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`compiling bench/controller-entry.ts failed: ${r.stderr}`);
  return path.join(repoRoot, outdir, 'controller-entry.js');
}
