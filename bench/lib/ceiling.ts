/**
 * The machine's ceiling for our work: in this one process, with nothing else in the loop, parse each
 * run, plan its artifacts (compose the provenance statement and the images' simple-signing payloads)
 * and sign every artifact with a local P-256 key (DSSE bundle for the provenance, message-signature
 * bundles for the images): exactly the CPU work the controller must do per run, minus I/O.
 */
import { randomUUID } from 'node:crypto';
import { parseConfig } from '../../src/config/index.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { composeStatement, formatFor, optionsFromConfig, serializeStatement } from '../../src/provenance/index.js';
import { planArtifacts } from '../../src/reconcile/index.js';
import { createEphemeralSigner, signMessage, signStatement } from '../../src/signing/index.js';
import { parseRun } from '../../src/tekton/index.js';

export interface CeilingFigures {
  /** Runs/s: plan (compose all artifacts) + sign all artifacts, as the controller does per run. */
  readonly runsPerSecond: number;
  /** Runs/s: compose + DSSE-sign the provenance only. */
  readonly provenanceOnlyRunsPerSecond: number;
  readonly artifactsPerRun: number;
  readonly runs: number;
}

function withUid(obj: Record<string, unknown>): Record<string, unknown> {
  const md = obj['metadata'] as Record<string, unknown>;
  return md['uid'] === undefined ? { ...obj, metadata: { ...md, uid: randomUUID() } } : obj;
}

export async function measureCeiling(objects: readonly Record<string, unknown>[], configData: Record<string, string>, minMs = 3000): Promise<CeilingFigures> {
  const config = parseConfig(configData).config;
  const logger = createSilentLogger();
  const signer = createEphemeralSigner();
  const runs = objects.map(withUid);
  // Warm up the JIT and the key.
  for (const o of runs.slice(0, 50)) {
    const run = parseRun(o, { kind: 'TaskRun' });
    for (const a of planArtifacts({ run, children: [], config, logger })) {
      if (a.type === 'provenance') await signStatement(signer, a.payload);
      else await signMessage(signer, a.payload);
    }
  }

  let done = 0;
  let artifacts = 0;
  const start = performance.now();
  while (performance.now() - start < minMs || done < runs.length) {
    const o = runs[done % runs.length] ?? {};
    const run = parseRun(o, { kind: 'TaskRun' });
    for (const a of planArtifacts({ run, children: [], config, logger })) {
      artifacts++;
      if (a.type === 'provenance') await signStatement(signer, a.payload);
      else await signMessage(signer, a.payload);
    }
    done++;
  }
  const full = done / ((performance.now() - start) / 1000);

  let done2 = 0;
  const start2 = performance.now();
  while (performance.now() - start2 < minMs / 2 || done2 < Math.min(runs.length, 500)) {
    const run = parseRun(runs[done2 % runs.length] ?? {}, { kind: 'TaskRun' });
    const statement = composeStatement({ format: formatFor(config, 'TaskRun'), run, children: [], options: optionsFromConfig(config, 'TaskRun') });
    await signStatement(signer, serializeStatement(statement));
    done2++;
  }
  const provOnly = done2 / ((performance.now() - start2) / 1000);
  return { runsPerSecond: full, provenanceOnlyRunsPerSecond: provOnly, artifactsPerRun: artifacts / done, runs: done };
}
