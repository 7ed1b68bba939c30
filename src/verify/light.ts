/**
 * What `verify --image` / `--bundle` need from this room, without the weight of its index (trace, the
 * Kubernetes client, @sigstore/verify): a light entry point for the CLI (eslint/room-boundaries.js).
 * `verifyAttestation` decides a keyed DSSE bundle with node:crypto (verify-key.ts) and loads the
 * Sigstore verifier only for everything else.
 */
import type { KeyObject } from 'node:crypto';
import { verifyKeyedDsse } from './verify-key.js';
import type { VerificationPolicy, VerifiedArtifact } from './verify-bundle.js';

export type { Subject, VerificationPolicy, VerifiedArtifact } from './verify-bundle.js';
export { builderIdOf, evaluatePolicy, type AttestationPolicy, type PolicyReason, type PolicyResult } from './policy.js';
export { bundleFromEnvelope } from './bundle-build.js';
export { loadDockerCredentials } from './docker-config.js';
export { parsePublicKey } from './verify-key.js';
export { sha256Of } from './vsa.js';

export interface VerifyAttestationOptions {
  /** The signed bytes of a message-signature bundle. */
  readonly artifact?: Buffer | undefined;
  /** `policy.key` already parsed (`parsePublicKey`), to parse it once for many bundles. */
  readonly key?: KeyObject | undefined;
}

/**
 * `verifyBundle(bundleJson, policy, { artifact })` with the same result and typed errors, loading
 * @sigstore/verify only when the keyed DSSE lean path cannot decide (keyless, a trusted root, log
 * entries, message signatures, any unusual bundle shape).
 */
export async function verifyAttestation(bundleJson: unknown, policy: VerificationPolicy, options: VerifyAttestationOptions = {}): Promise<VerifiedArtifact> {
  const lean = options.artifact === undefined ? verifyKeyedDsse(bundleJson, policy, options.key) : undefined;
  if (lean !== undefined) return lean;
  const { verifyBundle } = await import('./verify-bundle.js');
  return verifyBundle(bundleJson, policy, options.artifact === undefined ? {} : { artifact: options.artifact });
}
