// Property tests at the run boundary: mutations of Tekton Chains' own fixtures through parseRun and
// every provenance format. Budget: FUZZ_RUNS (npm run fuzz), a short fixed run otherwise.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig, type FormatName } from '../../src/config/index.js';
import { isProvenantError } from '../../src/errors.js';
import { composeStatement, optionsFromConfig } from '../../src/provenance/index.js';
import { parseRun } from '../../src/tekton/index.js';
import { fuzzParameters, fuzzTimeout, mutate, mutationOf } from '../support/fuzz.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'fuzz');
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8')) as Record<string, unknown>;
const seeds = {
  'taskrun-v1.json': { doc: load('taskrun-v1.json'), kind: 'TaskRun' as const },
  'taskrun-v1beta1.json': { doc: load('taskrun-v1beta1.json'), kind: 'TaskRun' as const },
  'pipelinerun-v1.json': { doc: load('pipelinerun-v1.json'), kind: 'PipelineRun' as const },
};
const formats: readonly FormatName[] = ['in-toto', 'slsa/v2alpha3', 'slsa/v2alpha4'];
const config = parseConfig({ 'builder.id': 'test_builder-1', 'artifacts.pipelinerun.enable-deep-inspection': 'true' }).config;

/** Everything the controller and `provenant provenance` do with a run: parse, then every format, then serialise. */
function attest(raw: unknown, kind: 'TaskRun' | 'PipelineRun', format: FormatName): string {
  const run = parseRun(raw, { kind, requireMetadata: false });
  const statement = composeStatement({ format, run, children: [], options: optionsFromConfig(config ?? defaultConfig(), run.kind) });
  return JSON.stringify(statement);
}

/** Returns the outcome; an untyped error fails the property (fast-check prints the seed and input). */
function outcome(raw: unknown, kind: 'TaskRun' | 'PipelineRun', format: FormatName): string {
  try {
    return attest(raw, kind, format);
  } catch (err) {
    if (isProvenantError(err)) return `error:${err.code}`;
    throw err;
  }
}

describe('runs: property tests over mutated Chains fixtures', () => {
  for (const [name, seed] of Object.entries(seeds)) {
    it(
      `${name}: any mutation gives a statement or a typed error, never an untyped throw`,
      () => {
        fc.assert(
          fc.property(mutationOf(seed.doc), fc.constantFrom(...formats), ({ path: p, mutation }, format) => {
            outcome(mutate(seed.doc, p, mutation), seed.kind, format);
          }),
          fuzzParameters(40),
        );
      },
      fuzzTimeout(30_000),
    );
  }

  it(
    'any object nested past the depth limit anywhere is RUN_MALFORMED',
    () => {
      const seed = seeds['taskrun-v1.json'];
      fc.assert(
        fc.property(mutationOf(seed.doc), fc.integer({ min: 70, max: 20_000 }), fc.boolean(), ({ path: p }, depth, asArray) => {
          const out = outcome(mutate(seed.doc, p, { op: 'nest', depth, asArray }), seed.kind, 'slsa/v2alpha4');
          expect(out).toBe('error:RUN_MALFORMED');
        }),
        fuzzParameters(30),
      );
    },
    fuzzTimeout(30_000),
  );

  it(
    'fields provenance ignores (managedFields, resourceVersion, unknown top-level keys) do not change the statement',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...Object.values(seeds)),
          fc.constantFrom(...formats),
          fc.jsonValue({ maxDepth: 4 }),
          fc.string({ maxLength: 20 }),
          (seed, format, noise, resourceVersion) => {
            const base = outcome(seed.doc, seed.kind, format);
            const noisy = structuredClone(seed.doc);
            const metadata = (noisy['metadata'] ?? {}) as Record<string, unknown>;
            noisy['metadata'] = { ...metadata, managedFields: [{ manager: 'fuzz', fieldsV1: noise }], resourceVersion };
            noisy['xFuzzIgnored'] = noise;
            expect(outcome(noisy, seed.kind, format)).toBe(base);
          },
        ),
        fuzzParameters(40),
      );
    },
    fuzzTimeout(30_000),
  );
});
