// ESLint rule: imports across rooms (folders under src/) go only through the room's index.ts
// (ARCHITECTURE.md). Files directly under src/ (errors.ts, backoff.ts, mutex.ts, main.ts) are
// shared by every room and may be imported from anywhere; they import rooms by index too.
//
// Light entry points: a room's index.ts re-exports everything, so importing it loads the room's
// SDKs (client-node for tekton/, prom-client for observability/, every backend for storage/). The
// few modules other rooms may import by value without that weight (issue 10: load only what a
// command uses) are listed here, in one place; anything else across rooms goes through index.ts.
import path from 'node:path';

const srcDir = path.resolve(import.meta.dirname, '..', 'src');

/** `<room>/<module>` (no extension) that other rooms may import besides `<room>/index`. */
export const lightEntryPoints = new Set([
  'observability/logger', // pino only, no prom-client
  'tekton/run-key', // RunKey and formatRunKey, no Kubernetes client
  'storage/oci/index', // the OCI reader/writer without the storage registry
  'storage/gcs-storage', // `inspect --gcs-bucket` reads one backend (its SDK is itself a dynamic import)
  'storage/archivista-storage', // `inspect --archivista-url`, likewise
  'storage/docdb-storage', // `inspect`/`trace --docdb-url` (mongodb / DynamoDB SDKs are dynamic imports)
  'storage/grafeas-storage', // `inspect --grafeas-project`, likewise
  'observability/noop-logger', // a silent Logger without pino (CLI commands at the default level)
  'verify/light', // verify --image/--bundle: the keyed lean verifier, policy, docker credentials; no trace, no @sigstore/verify
]);

/** The room of an absolute path under src/, or undefined for files directly under src/ (or outside). */
function roomOf(file) {
  const rel = path.relative(srcDir, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const parts = rel.split(path.sep);
  return parts.length > 1 ? parts[0] : undefined;
}

export const roomBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'imports across rooms only through the room index.ts' },
    messages: { deep: "'{{source}}' reaches into room {{room}}: import '{{index}}' instead (ARCHITECTURE.md)." },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const rel = path.relative(srcDir, file);
    if (rel.startsWith('..') || path.isAbsolute(rel)) return {};
    // undefined for the shared top-level files (main.ts, errors.ts, …): they too import rooms by index.
    const from = roomOf(file);
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = path.resolve(path.dirname(file), source);
      const room = roomOf(target);
      if (room === undefined || room === from) return;
      const rel = path.relative(path.join(srcDir, room), target).replace(/\.(js|ts)$/, '');
      if (rel === 'index' || lightEntryPoints.has(`${room}/${rel.split(path.sep).join('/')}`)) return;
      const index = path.relative(path.dirname(file), path.join(srcDir, room, 'index.js'));
      context.report({ node, messageId: 'deep', data: { source, room, index: index.startsWith('.') ? index : `./${index}` } });
    };
    return {
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
    };
  },
};

export const roomsPlugin = { rules: { 'room-boundaries': roomBoundaries } };
