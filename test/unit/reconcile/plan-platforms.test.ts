import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { indexCandidates, planArtifacts, platformKey, readPlatformManifestMap } from '../../../src/reconcile/index.js';
import { parseRun } from '../../../src/tekton/index.js';

const indexHex = 'a'.repeat(64);
const amd = `sha256:${'b'.repeat(64)}`;
const arm = `sha256:${'c'.repeat(64)}`;
const run = parseRun(
  {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name: 'build', namespace: 'ns', uid: 'u1' },
    spec: { taskRef: { name: 'build' } },
    status: {
      startTime: '2026-01-01T00:00:00Z',
      completionTime: '2026-01-01T00:01:00Z',
      conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
      results: [
        { name: 'IMAGE_URL', type: 'string', value: 'registry.example/app' },
        { name: 'IMAGE_DIGEST', type: 'string', value: `sha256:${indexHex}` },
      ],
    },
  },
  { kind: 'TaskRun' },
);
const platforms = new Map([[platformKey('registry.example/app', indexHex), [{ digest: amd }, { digest: arm }]]]);
const configOf = (data: Record<string, string> = {}) => parseConfig({ 'artifacts.taskrun.format': 'slsa/v1', ...data }).config;
const subjectsOf = (payload: Uint8Array): string[] =>
  (JSON.parse(new TextDecoder().decode(payload)) as { subject: { digest: { sha256: string } }[] }).subject.map((s) => s.digest.sha256);

describe('planning with image indexes (artifacts.oci.sign-index-manifests)', () => {
  it('off (default): no candidates, and a platform map changes nothing', () => {
    const config = configOf();
    expect(indexCandidates({ run, children: [], config })).toEqual([]);
    const plain = planArtifacts({ run, children: [], config });
    const withMap = planArtifacts({ run, children: [], config, platforms });
    expect(withMap.map((a) => a.checkpointKey)).toEqual(plain.map((a) => a.checkpointKey));
    expect(Buffer.from(withMap[0]!.payload).equals(Buffer.from(plain[0]!.payload))).toBe(true);
  });

  it('on: an image signature per platform manifest, and the platform digests follow the index as subjects', () => {
    const config = configOf({ 'artifacts.oci.sign-index-manifests': 'true' });
    expect(indexCandidates({ run, children: [], config })).toEqual([{ name: 'registry.example/app', digest: { sha256: indexHex } }]);
    const plan = planArtifacts({ run, children: [], config, platforms });
    expect(plan.map((a) => a.checkpointKey)).toEqual([
      'provenance',
      `image:registry.example/app@sha256:${indexHex}`,
      `image:registry.example/app@${amd}`,
      `image:registry.example/app@${arm}`,
    ]);
    expect(subjectsOf(plan[0]!.payload)).toEqual([indexHex, amd.slice(7), arm.slice(7)]);
    expect(plan[0]!.subjects.map((s) => s.digest['sha256'])).toEqual([indexHex, amd.slice(7), arm.slice(7)]);
    const armSig = JSON.parse(new TextDecoder().decode(plan[3]!.payload)) as { critical: { image: Record<string, string> } };
    expect(armSig.critical.image['docker-manifest-digest']).toBe(arm);
    expect(plan[3]!.shortKey).toBe('c'.repeat(12));
  });

  it('reads the index of each candidate once, keeping only indexes', async () => {
    const read: string[] = [];
    const map = await readPlatformManifestMap(
      [
        { name: 'registry.example/app', digest: { sha256: indexHex } },
        { name: 'registry.example/plain', digest: { sha256: 'd'.repeat(64) } },
        { name: 'not a repository', digest: { sha256: 'e'.repeat(64) } },
      ],
      async (image) => {
        read.push(`${image.registry}/${image.repository}@${image.digest}`);
        return image.repository === 'app' ? [{ digest: amd, mediaType: 'm', size: 1 }] : undefined;
      },
    );
    expect(read.sort()).toEqual([`registry.example/app@sha256:${indexHex}`, `registry.example/plain@sha256:${'d'.repeat(64)}`]);
    expect([...map.keys()]).toEqual([platformKey('registry.example/app', indexHex)]);
  });
});
