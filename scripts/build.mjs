// `npm run build` (and `prepare`, so `npm ci` leaves it built): bundles the CLI into dist/ with esbuild.
// One entry (dist/cli/main.js) and code splitting: each command, KMS signer and the Redis queue
// that the sources load with a dynamic import() becomes its own chunk, loaded only when used.
// Packages are bundled in (one file to read instead of dozens of modules to resolve: measured about
// 100 ms less per `provenance`/`verify` call than tsc's file-per-module output, see docs/cli-build.md)
// except those that must stay files in node_modules: native addons, packages that load files or
// workers relative to themselves, and the SDKs a CLI command never loads (they are loaded from
// node_modules by the controller only). pino is bundled: only its transports (worker threads started
// from files next to it) would need its directory, and provenant logs to a stream, never a transport. Type checking is `npm run typecheck`, not part of this.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const externalPackages = [
  '@kubernetes/client-node', // only for exec/auth-provider kubeconfig users (src/tekton/kube-http.ts)
  'bullmq', // with ioredis: native msgpackr, Lua scripts read from files
  'ioredis',
  '@aws-sdk/*',
  '@smithy/*',
  '@google-cloud/*',
  'mongodb', // docdb mongo:// only: optional native peers (kerberos, snappy, zstd) are resolved at run time
  '@azure/*', // Key Vault and identity SDKs: only the controller's azurekms:// signer loads them
  '@sigstore/tuf', // reads its seeds and package.json relative to itself; tuf-js with it
  'tuf-js',
  'google-gax', // protobufjs reads .proto/.json files relative to itself
  '@grpc/*',
  'protobufjs',
  'pkcs11js', // native addon
  'tsx',
];

// `node scripts/build.mjs [--entry NAME=FILE]... [--outdir DIR]`: other entries (the benchmarks bundle
// bench/controller-entry.ts this way, to measure the controller as it ships). Default: the CLI into dist/.
const args = process.argv.slice(2);
const entries = {};
let outdir = 'dist';
for (let i = 0; i < args.length; i += 2) {
  const [flag, value = ''] = [args[i], args[i + 1]];
  if (flag === '--outdir') outdir = value;
  else if (flag === '--entry') entries[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
  else throw new Error(`build: unknown argument ${flag}`);
}

/**
 * ESM imports of some Node built-ins are expensive for what they give: Node builds a built-in's ESM
 * facade by reading every export, and the lazy getters then run. `node:http` loads all of undici that
 * way (WebSocket, MessageEvent: ~40 ms CPU and ~10 MB per call, measured), `node:fs` its file streams.
 * In the bundle those imports read the module through `process.getBuiltinModule` instead, exporting
 * its plain properties and leaving the lazy getters alone (importing one of those names then fails
 * the build, not a run). `node:util`'s facade costs ~4 ms, `node:crypto`'s reads `webcrypto` and
 * `subtle` (loading WebCrypto), `node:fs/promises`'s and `node:os`'s ~0.5 ms each (Node 22.23, measured). Packages kept external still import built-ins their own way.
 */
const facadeFreeBuiltins = ['http', 'https', 'fs', 'fs/promises', 'crypto', 'util', 'os', 'path'];
/**
 * Names a built-in exports as plain values, and which of them load more of Node when first read: some
 * are lazily loaded values, not getters (`util.diff` loads the assert diff, `util.setTraceSigInt`
 * worker_threads, ~5 ms together). Asked of a fresh Node (the build's own), where nothing was read yet.
 */
function builtinExports(name) {
  const probe = `
    const mod = require('node:${name}');
    const plain = [], lazy = [];
    for (const n of Object.getOwnPropertyNames(mod)) {
      if (!/^[A-Za-z_$][\\w$]*$/.test(n)) continue;
      const before = process.moduleLoadList.length;
      const d = Object.getOwnPropertyDescriptor(mod, n);
      if (d.get) continue;
      (process.moduleLoadList.length > before ? lazy : plain).push(n);
    }
    process.stdout.write(JSON.stringify({ plain, lazy }));`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build: cannot list the exports of node:${name}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Lazily loaded built-in exports provenant imports (each loads its own module, nothing else). */
const lazyExportsUsed = { util: ['parseArgs'] };

const builtinShims = {
  name: 'builtin-shims',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${facadeFreeBuiltins.join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path.replace(/^node:/, ''), namespace: 'builtin-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'builtin-shim' }, (args) => {
      const { plain, lazy } = builtinExports(args.path);
      const names = [...plain, ...lazy.filter((n) => (lazyExportsUsed[args.path] ?? []).includes(n))];
      return {
        contents: `const m = process.getBuiltinModule('node:${args.path}');\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`,
        loader: 'js',
      };
    });
  },
};

/**
 * `make-fetch-happen` (with cacache, glob, minipass-*, socks, iconv-lite: ~1 MB of code, ~30 MB of RSS
 * once evaluated) is what @sigstore/sign's Fulcio, Rekor and TSA clients fetch with. Bundled as is, it
 * is evaluated whenever @sigstore/sign is, i.e. by every controller, signing or not. In the bundle it is
 * a function that loads the package from node_modules on its first call instead.
 */
const lazyPackages = ['make-fetch-happen'];
const lazyRequire = {
  name: 'lazy-require',
  setup(b) {
    const filter = new RegExp(`^(${lazyPackages.join('|')})$`);
    b.onResolve({ filter }, (args) => (args.namespace === 'lazy-require' ? undefined : { path: args.path, namespace: 'lazy-require' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-require' }, (args) => ({
      // A computed name: esbuild leaves the require() to run time (the banner's createRequire).
      contents: `let real; const load = () => (real ??= require([${JSON.stringify(args.path)}][0]));\nfunction lazy(...a) { return load()(...a); }\nlazy.defaults = (...a) => load().defaults(...a);\nmodule.exports = lazy;\nmodule.exports.default = lazy;\n`,
      loader: 'js',
    }));
  },
};

rmSync(path.resolve(root, outdir), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: Object.keys(entries).length > 0 ? entries : { 'cli/main': 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: true,
  external: externalPackages,
  plugins: [builtinShims, lazyRequire],
  // Bundled CommonJS packages call require() for Node's built-ins; ESM has none, so give them one.
  // Made on first call: reading `import.meta` makes Node build each chunk's import.meta object
  // (~0.3 ms a chunk, measured), and node:module goes through process.getBuiltinModule, not an ESM
  // import (whose facade reads every export).
  banner: {
    js: "let __provenantRequire; const __provenantRequireOf = () => (__provenantRequire ??= process.getBuiltinModule('node:module').createRequire(import.meta.url)); const require = Object.assign((id) => __provenantRequireOf()(id), { resolve: (id, options) => __provenantRequireOf().resolve(id, options) });",
  },
  logLevel: 'warning',
});
