/**
 * Sign once, log once. ECDSA signatures are randomised, so signing the same payload twice yields two
 * different envelopes and, once logged, two Rekor entries. The bundler therefore works in two
 * checkpointed steps, and the caller (reconcile) keeps the checkpoint in the job data:
 *
 *   1. sign (no witnesses)          → save({ bundle, verifier })          bundle has no tlog entry
 *   2. testify with the witnesses   → save({ bundle + tlog entries, … })  SET inside, before storage
 *
 * A retry passes the saved checkpoint back: a logged bundle is returned unchanged (no signing, no
 * Rekor call); a signed-but-unlogged one is sent to Rekor again with the very same envelope, so if the
 * first upload did land (lost response, timeout) Rekor answers 409 and the witness fetches that entry.
 * Either way one run produces one signature and at most one Rekor entry.
 */
import { bundleFromJSON, bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import type { Signature, Signer, Witness } from '@sigstore/sign';
import { inTotoPayloadType, signMessage, signStatement } from '../signing/index.js';
import { ProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { tlogEntryOf } from './tlog-entry.js';

export { inTotoPayloadType };

/** What the caller checkpoints between attempts. Holds no secret: a bundle and a public key or certificate. */
export interface TransparencyCheckpoint {
  readonly bundle: SerializedBundle;
  /** PEM public key or certificate that signed the bundle: what Rekor records as the verifier. */
  readonly verifier: string;
  /** True once the witnesses have run (a bundle may legitimately carry no tlog entry: upload off). */
  readonly witnessed: boolean;
}

export interface BundleArtifact {
  /** `dsse`: an in-toto statement in a DSSE envelope. `message-signature`: e.g. a simple-signing payload. */
  readonly kind: 'dsse' | 'message-signature';
  readonly data: Uint8Array;
  /** DSSE payload type; default `application/vnd.in-toto+json`. */
  readonly payloadType?: string;
}

export interface CreateBundleOptions {
  /** The checkpoint saved by an earlier attempt for this same artifact. */
  readonly checkpoint?: TransparencyCheckpoint | undefined;
  /** Persist a checkpoint (job data). Called after signing and again after logging. */
  readonly save?: (checkpoint: TransparencyCheckpoint) => Promise<void>;
}

export interface TransparentBundler {
  create(artifact: BundleArtifact, options?: CreateBundleOptions): Promise<SerializedBundle>;
}

export interface TransparentBundlerDeps {
  readonly signer: Signer;
  /** Rekor (and/or TSA) witnesses; empty when this run is not uploaded (`shouldUpload` false). */
  readonly witnesses: readonly Witness[];
  readonly logger: Logger;
}

function verifierOf(signature: Signature): string {
  return signature.key.$case === 'publicKey' ? signature.key.publicKey : signature.key.certificate;
}

/** Step 1 alone: sign, no witness (the caller checkpoints the result before witnessing it). */
export async function signOnly(signer: Signer, artifact: BundleArtifact): Promise<TransparencyCheckpoint> {
  let verifier: string | undefined;
  // Capture the key material the signer returns: a key-signed bundle carries only a hint, and
  // Rekor needs the key itself, also on a retry that must not call the signer again.
  const capturing: Signer = {
    sign: async (data) => {
      const signature = await signer.sign(data);
      verifier = verifierOf(signature);
      return signature;
    },
  };
  // The bundle builders live in the signing room; only the key capture is ours.
  const bundle =
    artifact.kind === 'dsse'
      ? await signStatement(capturing, artifact.data, { payloadType: artifact.payloadType ?? inTotoPayloadType })
      : await signMessage(capturing, artifact.data);
  if (verifier === undefined) {
    throw new ProvenantError('permanent', 'SIGNER_NO_KEY_MATERIAL', 'the signer returned no public key or certificate');
  }
  return { bundle, verifier, witnessed: false };
}

/** Step 2 alone: the witnesses' entries added to a checkpointed signature. */
export async function witness(checkpoint: TransparencyCheckpoint, witnesses: readonly Witness[]): Promise<TransparencyCheckpoint> {
  const bundle = bundleFromJSON(checkpoint.bundle);
  const materials = await Promise.all(witnesses.map((w) => w.testify(bundle.content, checkpoint.verifier)));
  bundle.verificationMaterial.tlogEntries = materials.flatMap((m) => m.tlogEntries ?? []);
  bundle.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: materials.flatMap((m) => m.rfc3161Timestamps ?? []) };
  return { bundle: bundleToJSON(bundle), verifier: checkpoint.verifier, witnessed: true };
}

/** True when a checkpoint needs no more signing or witnessing (logged, or signed with logging off). */
export function isFinal(checkpoint: TransparencyCheckpoint): boolean {
  return checkpoint.witnessed || tlogEntryOf(checkpoint.bundle) !== undefined;
}

export function createTransparentBundler(deps: TransparentBundlerDeps): TransparentBundler {
  return {
    async create(artifact: BundleArtifact, options: CreateBundleOptions = {}): Promise<SerializedBundle> {
      const save = options.save ?? (async () => undefined);
      let checkpoint = options.checkpoint;
      // Already logged, or signed by an earlier attempt with logging off: never sign or log again.
      if (checkpoint !== undefined && isFinal(checkpoint)) return checkpoint.bundle;
      if (checkpoint === undefined) {
        checkpoint = await signOnly(deps.signer, artifact);
        if (deps.witnesses.length === 0) checkpoint = { ...checkpoint, witnessed: true };
        await save(checkpoint);
      } else {
        deps.logger.debug({ resumed: 'signed' }, 'reusing the checkpointed signature');
      }
      if (checkpoint.witnessed || deps.witnesses.length === 0) return checkpoint.bundle;
      const logged = await witness(checkpoint, deps.witnesses);
      await save(logged);
      return logged.bundle;
    },
  };
}
