/**
 * Completed runs that a previous controller already signed with `tekton` storage: the annotations
 * a real signed run carries (signed, signed-uid, transparency, payload/signature per artifact, at
 * realistic sizes), so lists of them weigh what they weigh in a cluster.
 */
import type { FakeKubeServer } from '../../test/support/fake-kube-server.js';
import { fakeImages, taskRun } from './runs.js';

const sigB64 = Buffer.alloc(72, 7).toString('base64');

export function createSignedRuns(kube: FakeKubeServer, options: { prefix: string; count: number; namespaces: readonly string[]; rekorUrl?: string }): void {
  // A statement for these runs is ~4–6 KB; its base64 is what `tekton` storage keeps.
  const payload = Buffer.alloc(4800, 'x').toString('base64');
  const simpleSigning = Buffer.alloc(260, 'y').toString('base64');
  for (let i = 0; i < options.count; i++) {
    const namespace = options.namespaces[i % options.namespaces.length] ?? 'default';
    const images = fakeImages(options.prefix, i);
    const created = kube.create(taskRun({ index: i, prefix: options.prefix, namespace, images }));
    const md = created['metadata'] as { name: string; uid: string };
    const annotations: Record<string, string> = {
      'chains.tekton.dev/signed': 'true',
      'chains.tekton.dev/signed-uid': md.uid,
      'chains.tekton.dev/transparency': `${options.rekorUrl ?? 'https://rekor.sigstore.dev'}/api/v1/log/entries?logIndex=${1000 + i}`,
      [`chains.tekton.dev/payload-taskrun-${md.uid}`]: payload,
      [`chains.tekton.dev/signature-taskrun-${md.uid}`]: sigB64,
    };
    for (const im of images) {
      const short = im.digest.slice(7, 19);
      annotations[`chains.tekton.dev/payload-${short}`] = simpleSigning;
      annotations[`chains.tekton.dev/signature-${short}`] = sigB64;
    }
    kube.patch({ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace, name: md.name }, { metadata: { annotations } });
  }
}
