import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { defaultConfig, parseConfig, type FormatName } from '../../src/config/index.js';
import { composeStatement, optionsFromConfig } from '../../src/provenance/index.js';
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

describe('Tekton Chains conformance (in-process)', () => {
  it('finds the shared conformance cases', () => {
    // Fail, not skip: a missing folder must not turn the suite green.
    expect(existsSync(casesRoot), `conformance cases not found at ${casesRoot}`).toBe(true);
    expect(findCases(casesRoot).length).toBeGreaterThanOrEqual(11);
  });

  for (const dir of findCases(casesRoot)) {
    const id = path.relative(casesRoot, dir);
    it(`reproduces ${id} exactly, arrays in Chains' order`, () => {
      const meta = readJson(path.join(dir, 'case.json')) as CaseMeta;
      const expected = readJson(path.join(dir, 'expected.json'));
      const config = meta.config ? parseConfig(meta.config).config : defaultConfig();
      const run = parseRun(readJson(path.join(dir, meta.inputFile)), { kind: meta.kind, requireMetadata: false });
      const children = meta.childFiles.map((f) => parseRun(readJson(path.join(dir, f)), { kind: 'TaskRun', requireMetadata: false }));
      const statement = composeStatement({ format: meta.format, run, children, options: optionsFromConfig(config, run.kind) });
      expect(canon(statement)).toBe(canon(expected));
      // Top-level key order as Chains emits it.
      expect(Object.keys(statement)).toEqual(Object.keys(expected as Record<string, unknown>));
    });
  }
});
