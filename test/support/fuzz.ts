/**
 * fast-check settings for the property tests (test/property/). `npm test` runs a short fixed budget;
 * `npm run fuzz` sets FUZZ_RUNS (and optionally FUZZ_SEED to replay) for a long run. fast-check prints
 * the seed and the shrunk counterexample of any failure; FUZZ_SEED=<seed> FUZZ_PATH=<path> replays it.
 */
import fc from 'fast-check';

/** True under `npm run fuzz`: tests may then raise their per-file timeout. */
export const longFuzz = process.env['FUZZ_RUNS'] !== undefined;

/** Runs per property: small in `npm test`, FUZZ_RUNS in `npm run fuzz`. */
export function fuzzRuns(short: number): number {
  const n = Number(process.env['FUZZ_RUNS']);
  return Number.isInteger(n) && n > 0 ? n : short;
}

/**
 * One seed per test file under `npm run fuzz` (printed, so a green long run can be replayed too);
 * FUZZ_SEED fixes it. In `npm test` fast-check draws its own and prints it only on failure.
 */
const fixedSeed = Number(process.env['FUZZ_SEED']);
const seed = Number.isInteger(fixedSeed) ? fixedSeed : longFuzz ? (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) | 0 : undefined;
if (longFuzz) console.log(`fuzz: seed ${seed}, ${fuzzRuns(0)} runs per property (FUZZ_SEED=${seed} replays)`);

export function fuzzParameters<T>(short: number): fc.Parameters<T> {
  const path = process.env['FUZZ_PATH'];
  return {
    numRuns: fuzzRuns(short),
    ...(seed !== undefined ? { seed } : {}),
    ...(path !== undefined && path !== '' ? { path } : {}),
    // Hang guard for async properties, not a performance figure: an input that takes this long is stuck.
    timeout: 20_000,
    verbose: 1,
  };
}

/** Test timeout (ms) for a property: generous in the long run. */
export function fuzzTimeout(shortMs: number): number {
  return longFuzz ? 3_600_000 : shortMs;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonPath = readonly (string | number)[];

/** Every path in a JSON document (containers and leaves), root first. */
export function jsonPaths(doc: unknown): JsonPath[] {
  const out: JsonPath[] = [];
  const stack: { v: unknown; p: JsonPath }[] = [{ v: doc, p: [] }];
  while (stack.length > 0) {
    const { v, p } = stack.pop()!;
    out.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, p: [...p, i] }));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) stack.push({ v: x, p: [...p, k] });
  }
  return out;
}

export type Mutation =
  | { readonly op: 'replace'; readonly value: unknown }
  | { readonly op: 'delete' }
  | { readonly op: 'nest'; readonly depth: number; readonly asArray: boolean }
  | { readonly op: 'longString'; readonly length: number }
  | { readonly op: 'wideArray'; readonly length: number }
  | { readonly op: 'wideObject'; readonly keys: number }
  | { readonly op: 'addKey'; readonly key: string; readonly value: unknown };

/** Mutations that stress parsers: wrong types, deep nesting, long strings, wide containers, extra keys. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('replace' as const), value: fc.jsonValue({ maxDepth: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('nest' as const), depth: fc.integer({ min: 1, max: 5000 }), asArray: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('longString' as const), length: fc.integer({ min: 0, max: 3_000_000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('wideArray' as const), length: fc.integer({ min: 0, max: 30_000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('wideObject' as const), keys: fc.integer({ min: 0, max: 12_000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('addKey' as const), key: fc.string({ maxLength: 12 }), value: fc.jsonValue({ maxDepth: 2 }) }) },
);

function materialise(m: Mutation, old: unknown): unknown {
  switch (m.op) {
    case 'replace':
      return m.value;
    case 'delete':
      return undefined;
    case 'nest': {
      let v: unknown = old ?? 1;
      for (let i = 0; i < m.depth; i++) v = m.asArray ? [v] : { x: v };
      return v;
    }
    case 'longString':
      return 'a'.repeat(m.length);
    case 'wideArray':
      return Array.from({ length: m.length }, (_, i) => `v${i}`);
    case 'wideObject':
      return Object.fromEntries(Array.from({ length: m.keys }, (_, i) => [`k${i}`, 'v']));
    case 'addKey':
      return old !== null && typeof old === 'object' && !Array.isArray(old) ? { ...(old as object), [m.key]: m.value } : old;
  }
}

/** A copy of `doc` with `mutation` applied at `path` (the root when the path is empty). */
export function mutate<T>(doc: T, path: JsonPath, mutation: Mutation): T {
  const copy = structuredClone(doc) as Json;
  if (path.length === 0) return materialise(mutation, copy) as T;
  let parent: unknown = copy;
  for (const seg of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[seg];
  const last = path[path.length - 1]!;
  const container = parent as Record<string | number, unknown>;
  const next = materialise(mutation, container[last]);
  if (next === undefined) {
    if (Array.isArray(container)) container.splice(last as number, 1);
    else delete container[last];
  } else container[last] = next;
  return copy as T;
}

/** A path of `doc` and a mutation to apply there. */
export function mutationOf(doc: unknown): fc.Arbitrary<{ path: JsonPath; mutation: Mutation }> {
  const paths = jsonPaths(doc);
  return fc.record({ path: fc.constantFrom(...paths), mutation: mutationArb });
}

/**
 * `JSON.stringify` without recursion (V8's overflows the stack near a few thousand levels, and the
 * mutations nest deeper); `undefined` at the root is `null`.
 */
export function jsonText(value: unknown): string {
  const out: string[] = [];
  const stack: (unknown | { close: string } | { raw: string })[] = [value];
  const isMarker = (v: unknown): v is { close: string } | { raw: string } =>
    typeof v === 'object' && v !== null && markers.has(v as object);
  const markers = new WeakSet<object>();
  const marker = <T extends object>(m: T): T => (markers.add(m), m);
  while (stack.length > 0) {
    const v = stack.pop();
    if (isMarker(v)) {
      out.push('close' in v ? v.close : v.raw);
      continue;
    }
    if (Array.isArray(v)) {
      out.push('[');
      stack.push(marker({ close: ']' }));
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push(v[i] === undefined ? null : v[i]);
        if (i > 0) stack.push(marker({ raw: ',' }));
      }
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      out.push('{');
      stack.push(marker({ close: '}' }));
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, x] = entries[i]!;
        stack.push(x);
        stack.push(marker({ raw: `${i > 0 ? ',' : ''}${JSON.stringify(k)}:` }));
      }
    } else {
      out.push(v === undefined ? 'null' : JSON.stringify(v));
    }
  }
  return out.join('');
}
