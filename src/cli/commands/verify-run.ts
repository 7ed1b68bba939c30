/** `verify --taskrun/--pipelinerun`: a live run's annotations as a source (loaded only for those flags). */
import type { SerializedBundle } from '@sigstore/bundle';
import { errorMessage, isProvenantError } from '../../errors.js';
import { runShortKey, transparencyAnnotation, type RunKind } from '../../tekton/index.js';
import { artifactsFromAnnotations, fetchRekorEntry, loadLiveRun, type AttestationPolicy } from '../../verify/index.js';
import type { CliIo } from '../io.js';
import type { Candidate, Source, Values } from './verify.js';

export async function runSource(kind: RunKind, name: string, values: Values, io: CliIo, base: AttestationPolicy, keyless: boolean): Promise<Source> {
  const run = await loadLiveRun({ kind, name, namespace: values.namespace, kubeconfig: values.kubeconfig, env: io.env });
  const ownKey = runShortKey(kind, run.uid);
  const candidates: Candidate[] = [];
  const notes: string[] = [];
  for (const a of artifactsFromAnnotations(run.annotations)) {
    const location = `${kind.toLowerCase()}/${run.namespace}/${run.name} annotation ${a.annotations[0] ?? a.shortKey}`;
    if (a.type === 'image-signature') {
      notes.push(`${location}: image signature, not checked here (verify the image with cosign verify)`);
      continue;
    }
    if (a.shortKey !== ownKey) {
      candidates.push({ location, bundle: a.bundle, rejected: { code: 'VERIFY_RUN_MISMATCH', message: `attestation ${a.shortKey} belongs to another run (uid ${run.uid} expected): annotations copied?` } });
      continue;
    }
    if (a.payloadMismatch) {
      candidates.push({ location, bundle: a.bundle, rejected: { code: 'VERIFY_PAYLOAD_MISMATCH', message: 'the payload annotation differs from the signed payload' } });
      continue;
    }
    let bundle: SerializedBundle = a.bundle;
    const logUrl = run.annotations[transparencyAnnotation];
    // Annotations carry no log entry; a keyless certificate is only valid with one, so fetch it from Rekor.
    if (logUrl !== undefined && (keyless || base.requireTlog === true)) {
      try {
        const entry = await fetchRekorEntry(logUrl);
        bundle = { ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [entry] } };
      } catch (err) {
        notes.push(`${location}: transparency log entry not available: ${isProvenantError(err) ? err.code : errorMessage(err)}`);
      }
    }
    candidates.push({ location, bundle });
  }
  return { name: `${kind} ${run.namespace}/${run.name}`, rule: 'all', candidates, policy: base, notes };
}
