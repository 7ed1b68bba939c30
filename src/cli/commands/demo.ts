/**
 * `provenant demo`: a thin entry to the dev/demo program in `demo/` (outside src/), which brings
 * its own in-process Kubernetes API stand-in from test support. A source checkout has both; the
 * production image and a bare install have neither, and say so.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ProvenantError } from '../../errors.js';
import type { CliCommand, CliIo } from '../io.js';

/** The package root: the nearest directory up from this module with a package.json (src/cli/commands/ or dist/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

type DemoModule = { runDemo(argv: readonly string[], io: CliIo): Promise<number> };

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'run the controller on the embedded default (no cluster, no Redis) and verify the results',
  run: async (argv, io) => {
    const entry = path.join(packageRoot(), 'demo', 'demo.ts');
    if (!existsSync(entry)) {
      throw new ProvenantError('input', 'DEMO_UNAVAILABLE', 'the demo ships with the source checkout (demo/), not with this installation', {
        context: { hint: 'clone the repository, npm ci, then npm run demo' },
      });
    }
    const { tsImport } = await import('tsx/esm/api');
    const demo = (await tsImport(pathToFileURL(entry).href, import.meta.url)) as DemoModule;
    return demo.runDemo(argv, io);
  },
};
