/**
 * The controller with `grafeas` storage (the real `@google-cloud/grafeas` client against the Grafeas v1 gRPC
 * stand-in): a TaskRun and a PipelineRun get Chains' notes and occurrences, and a Grafeas server that fails
 * the first attempts costs retries only: one signature and one Rekor entry per artifact, no duplicate
 * occurrence.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  annotationsOf,
  createPipelineRun,
  refOf,
  setChainsConfig,
  runNamespace,
  startE2eEnvironment,
  startInstance,
  taskRunObject,
  unpushedImage,
  waitFor,
  type ControllerInstance,
  type E2eEnvironment,
} from '../support/controller-harness.js';
import { startGrafeasServer, type GrafeasTestServer } from '../support/grafeas-server.js';
import type { PushedImage } from '../support/oci-image.js';

const project = 'provenant-e2e';
let env: E2eEnvironment;
let grafeas: GrafeasTestServer;
let instance: ControllerInstance;

/** Storage never reads the image, so a made-up digest will do. */
const image = (name: string): PushedImage => unpushedImage('grafeas-e2e', name);

beforeAll(async () => {
  [env, grafeas] = await Promise.all([startE2eEnvironment({ redis: false }), startGrafeasServer()]);
  setChainsConfig(env, {
    ...env.configData,
    'artifacts.taskrun.storage': 'tekton,grafeas',
    'artifacts.pipelinerun.storage': 'grafeas',
    'artifacts.oci.storage': 'grafeas',
    'storage.grafeas.projectid': project,
    'storage.grafeas.server': grafeas.url,
  });
  instance = await startInstance(env, { memoryQueue: true });
}, 60_000);

afterAll(async () => {
  await instance?.stop();
  await Promise.all([env?.stop(), grafeas?.stop()]);
});

describe('controller with grafeas storage', () => {
  it('a Grafeas outage on the first attempts: retried, then one BUILD and one ATTESTATION occurrence; signed once', async () => {
    const img = image('app');
    const uri = `${img.name}@${img.digest}`;
    const rekorBefore = env.sigstore.rekorEntryCount();
    grafeas.failNext('CreateNote', 'unavailable', 2);
    const ref = refOf(env.kube.create(taskRunObject('grafeas-tr', { image: img })));
    await waitFor(() => annotationsOf(env.kube, ref)['chains.tekton.dev/signed'] !== undefined, 30_000, 'grafeas-tr signed');
    expect(annotationsOf(env.kube, ref)['chains.tekton.dev/signed']).toBe('true');

    const forRun = grafeas.occurrences.filter((o) => o.resourceUri === uri);
    expect(forRun.map((o) => [o.kind, o.noteName]).sort()).toEqual([
      ['ATTESTATION', `projects/${project}/notes/tekton-${runNamespace}-simplesigning`],
      ['BUILD', `projects/${project}/notes/tekton-${runNamespace}-taskrun-intoto`],
    ]);
    // Provenance + image signature: signed and logged once each, whatever the retries.
    expect(env.sigstore.rekorEntryCount() - rekorBefore).toBe(2);
    expect(grafeas.calls.filter((c) => c.method === 'CreateNote').length).toBeGreaterThanOrEqual(3);
  });

  it("a PipelineRun's provenance goes under <prefix>-pipelinerun-intoto, its children's under -taskrun-intoto", async () => {
    const img = image('release');
    const uri = `${img.name}@${img.digest}`;
    const { pipelineRun, children } = createPipelineRun(env.kube, 'grafeas-pr', img);
    const refs = [refOf(pipelineRun), ...children.map(refOf)];
    await waitFor(() => refs.every((r) => annotationsOf(env.kube, r)['chains.tekton.dev/signed'] !== undefined), 30_000, 'pipeline signed');
    for (const r of refs) expect(annotationsOf(env.kube, r)['chains.tekton.dev/signed']).toBe('true');
    const notesOf = (kind: string): string[] => grafeas.occurrences.filter((o) => o.resourceUri === uri && o.kind === kind).map((o) => o.noteName).sort();
    expect(notesOf('BUILD')).toEqual([`projects/${project}/notes/tekton-${runNamespace}-pipelinerun-intoto`, `projects/${project}/notes/tekton-${runNamespace}-taskrun-intoto`]);
    expect(notesOf('ATTESTATION')).toEqual([`projects/${project}/notes/tekton-${runNamespace}-simplesigning`]);
    expect(grafeas.notes.get(`projects/${project}/notes/tekton-${runNamespace}-pipelinerun-intoto`)).toMatchObject({ kind: 'BUILD', build: { builderVersion: 'tekton.dev/v1/PipelineRun' } });
  });
});
