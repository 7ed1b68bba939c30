/**
 * Fault: a corpus of malformed runs (see support/bad-input-corpus.ts) mixed into a normal backlog.
 * No crash; each finished run ends signed (without the bad subject) or `signed=failed` with a reason
 * code and a Warning Event; unfinished ones are left alone until they finish; the normal runs are
 * all signed once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../src/verify/index.js';
import { bundlesFromTektonAnnotations, taskRunObject } from '../support/controller-harness.js';
import { badInputCorpus } from './support/bad-input-corpus.js';
import {
  annotationsOf,
  auditRuns,
  createBacklog,
  leakedSecrets,
  reconciledCount,
  recordRow,
  refOf,
  writeResult,
  scenarioTimeoutMs,
  startFaultController,
  startFaultEnvironment,
  waitUntil,
  type FaultEnvironment,
  type RunRef,
} from './support/fault-harness.js';

let env: FaultEnvironment;

beforeAll(async () => {
  env = await startFaultEnvironment();
}, 60_000);

afterAll(async () => {
  await env?.stop();
});

const reasonCode = /^[A-Z][A-Z0-9_]{2,}$/;

describe('fault: bad-input corpus', () => {
  it('signs or fails every malformed run with a reason, never crashes, and signs the normal backlog', async () => {
    const corpus = badInputCorpus('bad');
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    const badRefs = new Map<string, RunRef>();
    for (const c of corpus) badRefs.set(c.name, refOf(env.kube.create(c.object)));
    const normal = createBacklog(env.kube, 'good', { taskRuns: 100 });
    const started = Date.now();
    const controller = await startFaultController(env, { attempts: 3 });
    try {
      const finished = corpus.filter((c) => c.expect !== 'not-done' && c.expect !== 'waits-for-children');
      const finishedRefs = finished.map((c) => badRefs.get(c.name) as RunRef);
      await waitUntil(
        () => reconciledCount(env.kube, finishedRefs) === finishedRefs.length && reconciledCount(env.kube, normal) === normal.length,
        scenarioTimeoutMs,
        'every finished run reconciled',
      ).catch((err: unknown) => {
        const stuck = [...finishedRefs, ...normal].filter((r) => {
          const v = annotationsOf(env.kube, r)['chains.tekton.dev/signed'];
          return v !== 'true' && v !== 'failed';
        });
        const names = stuck.map((r) => r.name.slice(0, 60));
        const related = controller.lines.filter((l) => stuck.some((r) => l.includes(r.name.slice(0, 60)))).map((l) => l.slice(0, 400));
        throw new Error(`${(err as Error).message}; not reconciled: ${names.join(', ')}; their log lines: ${related.slice(-20).join('\n')}`);
      });
      expect(controller.controller.ready()).toBe(true);

      const outcomes: Record<string, string> = {};
      const events = env.kube.events();
      for (const c of corpus) {
        const ref = badRefs.get(c.name) as RunRef;
        const a = annotationsOf(env.kube, ref);
        const state = a['chains.tekton.dev/signed'];
        outcomes[c.name] = state === 'failed' ? `failed:${a['chains.tekton.dev/reason'] ?? '?'}` : (state ?? 'unsigned');
        if (c.expect === 'not-done' || c.expect === 'waits-for-children') {
          expect(state, c.name).toBeUndefined();
          continue;
        }
        if (c.expect === 'signed') expect(state, c.name).toBe('true');
        if (c.reason !== undefined) {
          // Over a limit: failed at the first attempt with that code, never retried.
          expect([state, a['chains.tekton.dev/reason'], a['chains.tekton.dev/retries']], c.name).toEqual(['failed', c.reason, '1']);
        }
        if (state === 'failed') {
          expect(a['chains.tekton.dev/reason'], c.name).toMatch(reasonCode);
          const mine = events.filter((e) => (e['involvedObject'] as { name?: string }).name === ref.name);
          expect(mine, c.name).toEqual([expect.objectContaining({ type: 'Warning', reason: 'SigningFailed' })]);
          continue;
        }
        expect(state, c.name).toBe('true');
        // The signature verifies, and the bad subject is not in the statement.
        const signed = bundlesFromTektonAnnotations(a);
        expect(signed, c.name).toHaveLength(1);
        for (const { bundle, payload } of signed) {
          verifyBundle(bundle, { key: env.publicKeyPem });
          const statement = JSON.parse(payload.toString('utf8')) as { subject?: { name: string }[] | null };
          if (c.absentSubject !== undefined) {
            expect((statement.subject ?? []).map((s) => s.name), c.name).not.toContain(c.absentSubject);
          }
        }
      }

      // Unfinished runs finish now and get signed like any other.
      const notDone = corpus.filter((c) => c.expect === 'not-done').map((c) => badRefs.get(c.name) as RunRef);
      const doneAt = Date.now();
      for (const ref of notDone) {
        env.kube.patch(ref, {
          status: {
            conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
            startTime: new Date(Date.now() - 1000).toISOString(),
            completionTime: new Date().toISOString(),
          },
        });
      }
      // The missing children appear (and get signed); their parents follow.
      const waiting = corpus.filter((c) => c.expect === 'waits-for-children').map((c) => badRefs.get(c.name) as RunRef);
      for (const ref of waiting) {
        const parent = env.kube.get(ref);
        const uid = String(parent?.metadata?.['uid']);
        env.kube.create(taskRunObject(`${ref.name}-x`, { parent: { name: ref.name, uid, task: 'x' } }));
      }
      const late = [...notDone, ...waiting];
      await waitUntil(() => reconciledCount(env.kube, late) === late.length, 30_000, 'the late finishers reconciled');
      for (const ref of late) expect(annotationsOf(env.kube, ref)['chains.tekton.dev/signed'], ref.name).toBe('true');

      // The normal backlog around the corpus: all signed, once, verified with its Rekor entry.
      const audit = await auditRuns(env, normal);
      expect(audit.problems).toEqual([]);
      expect(audit.duplicates).toBe(0);
      expect(leakedSecrets(controller.lines, env.secrets)).toEqual([]);

      // The malformed runs that were signed: verified and counted in Rekor like the others.
      const all = [...badRefs.values()];
      const failedNames = new Set(all.filter((r) => annotationsOf(env.kube, r)['chains.tekton.dev/signed'] === 'failed').map((r) => r.name));
      const badAudit = await auditRuns(env, all, { expectFailed: failedNames });
      expect(badAudit.problems).toEqual([]);
      expect(badAudit.duplicates).toBe(0);
      const signedBad = badAudit.signed;
      const failedBad = badAudit.failed;
      await writeResult('bad-input-outcomes.json', `${JSON.stringify(outcomes, null, 1)}\n`);
      await recordRow({
        scenario: `bad-input corpus (${corpus.length} malformed runs) + ${normal.length} normal runs`,
        runs: corpus.length + normal.length,
        signed: signedBad + audit.signed,
        failed: failedBad + audit.failed,
        rekorEntries: audit.rekorEntries + badAudit.rekorEntries,
        duplicates: audit.duplicates + badAudit.duplicates,
        recoverSeconds: (Date.now() - doneAt) / 1000,
        totalSeconds: (Date.now() - started) / 1000,
      });
    } finally {
      await controller.stop();
    }
  }, scenarioTimeoutMs + 60_000);
});
