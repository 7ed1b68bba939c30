#!/usr/bin/env node
// Entry point. It runs the compiled CLI (dist/, which `npm ci` builds through the `prepare` script and
// the container image ships) unless a source file is newer than the build, in which case it runs the
// TypeScript sources through tsx: a checkout being edited never runs a stale dist/.
// PROVENANT_FROM_SOURCE=1 (any value but empty or 0) forces the sources. Nothing is imported statically: the version check must
// run on any Node, and must be the only thing an old Node sees.
const major = Number(process.versions.node.split('.')[0]);
if (!(major >= 22) || typeof process.getBuiltinModule !== 'function') {
  process.stderr.write(
    `provenant: needs Node.js 22.3 or newer, this is ${process.version} (${process.execPath}); run it with \`npx provenant\` in the project, which uses its Node 22\n`,
  );
  process.exit(2);
}

// process.getBuiltinModule, not import(): an ESM import of node:fs builds its facade by reading every
// export, which loads the file streams (~10 ms) for nothing.
const builtin = (name) => process.getBuiltinModule(name);
const { existsSync, readdirSync, statSync } = builtin('node:fs');
const { fileURLToPath, pathToFileURL } = builtin('node:url');
const path = builtin('node:path');
const { enableCompileCache } = builtin('node:module');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compiled = path.join(root, 'dist', 'cli', 'main.js');
const sources = path.join(root, 'src');

/**
 * The newest modification time of a file under `dir`. A plain walk with plain string paths: the
 * recursive readdir, or path.join per entry, each cost ~6 MB of peak RSS and ~5 ms here (measured).
 */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = `${dir}/${entry.name}`;
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(file) : statSync(file).mtimeMs);
  }
  return newest;
}

/** True when dist/ exists and no file under src/ (if there is one) changed after it was built. */
function compiledIsCurrent() {
  if (!existsSync(compiled)) return false;
  if (!existsSync(sources)) return true; // the container image: compiled code only
  return newestMtime(sources) <= statSync(compiled).mtimeMs;
}

// V8 code cache on disk (default: the OS temp directory): later runs skip parsing and compiling.
enableCompileCache?.();

const fromSource = !['', '0', undefined].includes(process.env.PROVENANT_FROM_SOURCE);
if (!fromSource && compiledIsCurrent()) {
  await import(pathToFileURL(compiled).href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`provenant: ${existsSync(compiled) ? 'dist/ is older than src/' : 'dist/ is missing'} and tsx is not installed: run \`npm run build\`\n`);
    process.exit(2);
  }
  register();
  await import(pathToFileURL(path.join(sources, 'cli', 'main.ts')).href);
}
