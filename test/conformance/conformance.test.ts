import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { defaultConfig, parseConfig, type FormatName } from '../../src/config/index.js';
import { composeStatement, optionsFromConfig, serializeStatement } from '../../src/provenance/index.js';
import { parseRun } from '../../src/tekton/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const conformanceRoot = path.resolve(repoRoot, '..', 'shared', 'conformance');
const casesRoot = path.join(conformanceRoot, 'cases');

interface CaseMeta {
  format: FormatName;
  kind: 'TaskRun' | 'PipelineRun';
  inputFile: string;
  childFiles: string[];
  config: Record<string, string>;
  orderInsensitive: string[];
}

function findCases(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const ents = readdirSync(dir, { withFileTypes: true });
  if (ents.some((e) => e.isFile() && e.name === 'case.json')) return [dir];
  return ents
    .filter((e) => e.isDirectory())
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => findCases(path.join(dir, e.name)));
}

/** Recursively key-sorted JSON, so object key order does not matter but array order does. */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const readJson = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));

function sortedDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedDeep);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortedDeep(o[k])]));
  }
  return v;
}

/**
 * The bytes Chains signs for an expected statement. Chains builds every format as an in-toto v1
 * `Statement` protobuf with the predicate in a `google.protobuf.Struct` and writes it with
 * `protojson.Marshal` (pkg/chains/signing.go getRawPayload): message fields in field-number order
 * (`_type`, `subject`, `predicateType`, `predicate`; a subject is `name`, `uri`, `digest`), map and
 * Struct keys sorted, no indentation, strings escaped only where JSON requires it. protojson may also
 * put one space after every comma, decided per build of the binary (its deliberate output
 * instability); this is the form without it.
 */
function chainsBytes(expected: unknown): string {
  const e = expected as { _type: string; subject?: { name?: string; uri?: string; digest?: Record<string, string> }[]; predicateType: string; predicate: unknown };
  return JSON.stringify({
    _type: e._type,
    ...(e.subject === undefined
      ? {}
      : { subject: e.subject.map((s) => ({ ...(s.name === undefined ? {} : { name: s.name }), ...(s.uri === undefined ? {} : { uri: s.uri }), digest: sortedDeep(s.digest) })) }),
    predicateType: e.predicateType,
    predicate: sortedDeep(e.predicate),
  });
}

describe('Tekton Chains conformance (in-process)', () => {
  it('finds the shared conformance cases', () => {
    // Fail, not skip: a missing folder must not turn the suite green.
    expect(existsSync(casesRoot), `conformance cases not found at ${casesRoot}`).toBe(true);
    expect(findCases(casesRoot).length).toBeGreaterThanOrEqual(11);
  });

  for (const dir of findCases(casesRoot)) {
    const id = path.relative(casesRoot, dir);
    it(`reproduces ${id} byte for byte (protojson compact form), arrays in Chains' order`, () => {
      const meta = readJson(path.join(dir, 'case.json')) as CaseMeta;
      const expected = readJson(path.join(dir, 'expected.json'));
      const config = meta.config ? parseConfig(meta.config).config : defaultConfig();
      const run = parseRun(readJson(path.join(dir, meta.inputFile)), { kind: meta.kind, requireMetadata: false });
      const children = meta.childFiles.map((f) => parseRun(readJson(path.join(dir, f)), { kind: 'TaskRun', requireMetadata: false }));
      const statement = composeStatement({ format: meta.format, run, children, options: optionsFromConfig(config, run.kind) });
      expect(canon(statement)).toBe(canon(expected));
      // Top-level key order as Chains emits it.
      expect(Object.keys(statement)).toEqual(Object.keys(expected as Record<string, unknown>));
      // And the exact bytes that get signed.
      expect(Buffer.from(serializeStatement(statement)).toString('utf8')).toBe(chainsBytes(expected));
    });
  }
});
