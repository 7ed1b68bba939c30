/**
 * Fault: the controller stores into a registry (the hostile stand-in of test/support/) whose tags
 * for a few images answer with an endless body, a 10 GiB `Content-Length`, a manifest nested 10,000
 * deep, layers that are not descriptors, or a redirect loop. Those runs end `signed=failed` with the
 * typed reason at the first attempt (permanent: never retried), nothing is written over the hostile
 * tags, the other runs are signed once, and no secret reaches a log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestTag } from '../../src/storage/oci/index.js';
import { pushImages } from '../support/controller-harness.js';
import { startHostileRegistry, type HostileRegistry, type Misbehaviour } from '../support/hostile-registry.js';
import type { RegistryHandle } from '../support/services.js';
import {
  annotationsOf,
  auditRuns,
  createBacklog,
  leakedSecrets,
  reconciledCount,
  recordRow,
  scenarioTimeoutMs,
  startFaultController,
  startFaultEnvironment,
  waitUntil,
  type FaultEnvironment,
} from './support/fault-harness.js';

let env: FaultEnvironment;
let reg: HostileRegistry;

beforeAll(async () => {
  [env, reg] = await Promise.all([startFaultEnvironment(), startHostileRegistry()]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([env?.stop(), reg?.close()]);
});

const runs = 20;
const hostile: readonly { suffix: 'att' | 'sig'; how: Misbehaviour; reason: string }[] = [
  { suffix: 'att', how: { kind: 'endless' }, reason: 'OCI_MANIFEST_INVALID' },
  { suffix: 'att', how: { kind: 'huge-declared' }, reason: 'OCI_MANIFEST_INVALID' },
  { suffix: 'att', how: { kind: 'nested', depth: 10_000 }, reason: 'OCI_MANIFEST_INVALID' },
  {
    suffix: 'sig',
    how: { kind: 'wrong-content', body: Buffer.from(JSON.stringify({ schemaVersion: 2, config: {}, layers: [null, { digest: 'sha256:../../x' }] })) },
    reason: 'OCI_MANIFEST_INVALID',
  },
  { suffix: 'att', how: { kind: 'redirect-loop' }, reason: 'OCI_REQUEST_FAILED' },
];

describe('fault: hostile registry answers for some images', () => {
  it('fails those runs with the typed reason once, writes no hostile tag, signs the rest once', async () => {
    const prefix = 'hostile';
    const images = await pushImages({ host: reg.host } as RegistryHandle, prefix, runs);
    const tags = hostile.map((h, i) => digestTag(images[i]!.digest, h.suffix));
    hostile.forEach((h, i) => reg.misbehave(`/manifests/${tags[i]}`, h.how));
    env.setConfig({
      ...env.faultConfig,
      'artifacts.taskrun.storage': 'tekton,local,oci',
      'artifacts.oci.signer': 'x509',
      'artifacts.oci.storage': 'oci',
    });
    const refs = createBacklog(env.kube, prefix, { images, pipelineRuns: false, taskRuns: runs });
    const started = Date.now();
    const c = await startFaultController(env, { attempts: 3, backoff: { baseMs: 100, maxMs: 500 } });
    try {
      await waitUntil(() => reconciledCount(env.kube, refs) === refs.length, scenarioTimeoutMs, 'all runs reconciled');
      const failedNames = new Set<string>();
      hostile.forEach((h, i) => {
        const a = annotationsOf(env.kube, refs[i]!);
        expect([a['chains.tekton.dev/signed'], a['chains.tekton.dev/reason'], a['chains.tekton.dev/retries']], `${h.suffix} ${h.how.kind}`).toEqual([
          'failed',
          h.reason,
          '1',
        ]);
        failedNames.add(refs[i]!.name);
      });
      // Nothing was written over a tag that could not be read.
      expect(reg.puts.filter((p) => tags.some((t) => p.path.endsWith(`/manifests/${t}`))).map((p) => p.path)).toEqual([]);
      const audit = await auditRuns(env, refs, { expectFailed: failedNames });
      expect(audit.problems).toEqual([]);
      expect(audit.signed).toBe(runs - hostile.length);
      expect(audit.duplicates).toBe(0);
      expect(leakedSecrets(c.lines, env.secrets)).toEqual([]);
      await expect.poll(() => reg.openStreams()).toBe(0);
      await recordRow({
        scenario: `hostile registry (${hostile.map((h) => h.how.kind).join(', ')}) for ${hostile.length} of ${runs} images`,
        runs: refs.length,
        signed: audit.signed,
        failed: audit.failed,
        rekorEntries: audit.rekorEntries,
        duplicates: audit.duplicates,
        recoverSeconds: 0,
        totalSeconds: (Date.now() - started) / 1000,
      });
    } finally {
      await c.stop();
      env.setConfig(env.faultConfig);
    }
  }, scenarioTimeoutMs + 60_000);
});
