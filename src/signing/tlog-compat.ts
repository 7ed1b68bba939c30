/**
 * Which keys can be logged in Rekor v1 in a form the log accepts and cosign verifies. Checked when the
 * signers of a Config are built (config load and reload, `provenant sign`), so a combination that would
 * fail on every run — or worse, be logged in a form nobody can verify — stops the controller with a
 * `config` error naming the fix instead.
 *
 * What Rekor v1 (1.3.9 .. 1.5) checks, and what cosign (2.5 .. 3.x) requires of the legacy layout:
 * - `dsse` entries (attestations): Rekor verifies every ECDSA signature with SHA-256
 *   (`signature.LoadVerifier(key, crypto.SHA256)` in pkg/types/dsse), ed25519 as pure Ed25519.
 * - `hashedrekord` entries (image signatures, `.sig`): sigstore-js and cosign's `.sig` bundle check
 *   declare/require `sha256`; Rekor verifies ECDSA over that digest, and ed25519 keys only as Ed25519ph
 *   over a SHA-512 digest (`options.WithED25519ph()` in pkg/types/hashedrekord). cosign 2.6+ therefore
 *   signs ed25519 image signatures with Ed25519ph and a `sha512` entry, which its own `.sig` check
 *   (`unexpected algorithm`) and cosign 2.5's pure-Ed25519 key verifier both reject.
 * So: KMS P-384 keys (SHA-384 only) cannot be logged at all, ed25519 keys cannot log image signatures.
 * (`intoto` 0.0.2 entries are verified like `dsse`.)
 *
 * Rekor v2 (rekor-tiles, `transparency.version: v2`) logs everything as `hashedrekord` 0.0.2 and checks
 * the key details against its default AllowedClientSigningAlgorithms: P-384 only with SHA-384
 * (`PKIX_ECDSA_P384_SHA_384`; the deprecated `PKIX_ECDSA_P384_SHA_256` is not allowed) and ed25519 only
 * as Ed25519ph. There the rules turn around: KMS P-384 attestations are fine (their PAE digest is SHA-384),
 * but not their image signatures (the message-signature bundle's digest is always SHA-256), and
 * Secret/PKCS#11 P-384 and ed25519 keys are not.
 */
import type { Config, SignerName } from '../config/index.js';
import { ProvenantError } from '../errors.js';
import type { KeyAlgorithm, KeySigner } from './types.js';

/** The Rekor v1 entry type an artifact is logged as (`dsse` also stands for `intoto`). */
export type RekorEntryKind = 'dsse' | 'hashedrekord';

export type RekorVersion = Config['transparency']['version'];

/** Why Rekor (v1 + cosign, or v2) cannot take `algorithm` as `entry`, or undefined when it can. */
export function rekorRefusalReason(algorithm: KeyAlgorithm, entry: RekorEntryKind, version: RekorVersion = 'v1'): string | undefined {
  if (version === 'v2') {
    if (algorithm === 'ecdsa-p384-sha256') return 'Rekor v2 accepts P-384 signatures only with SHA-384 (PKIX_ECDSA_P384_SHA_384), and a Secret or PKCS#11 P-384 key signs SHA-256';
    if (algorithm === 'ed25519') return 'Rekor v2 accepts ed25519 only as Ed25519ph, and provenant signs pure Ed25519';
    if (algorithm === 'ecdsa-p384-sha384' && entry === 'hashedrekord') {
      return "an image-signature bundle carries a SHA-256 message digest (sigstore-js), and Rekor v2 wants SHA-384 for a P-384 key's entry";
    }
    return undefined;
  }
  if (algorithm === 'ecdsa-p384-sha384') {
    return entry === 'dsse'
      ? "a KMS P-384 key signs SHA-384 only, and Rekor's dsse type checks every ECDSA signature with SHA-256"
      : 'a KMS P-384 key signs SHA-384 only, and the hashedrekord entry (and cosign\'s .sig check) is SHA-256';
  }
  if (algorithm === 'ed25519' && entry === 'hashedrekord') {
    return 'Rekor checks ed25519 hashedrekord signatures as Ed25519ph over SHA-512, while cosign checks .sig entries only as SHA-256';
  }
  return undefined;
}

/** The artifact kinds of `config` that `name` signs, with the entry type each is logged as. */
function loggedAs(config: Config, name: SignerName): { readonly key: string; readonly entry: RekorEntryKind }[] {
  const out: { key: string; entry: RekorEntryKind }[] = [];
  if (config.artifacts.taskrun.signer === name) out.push({ key: 'artifacts.taskrun.signer', entry: 'dsse' });
  if (config.artifacts.pipelinerun.signer === name) out.push({ key: 'artifacts.pipelinerun.signer', entry: 'dsse' });
  if (config.artifacts.oci.signer === name) out.push({ key: 'artifacts.oci.signer', entry: 'hashedrekord' });
  return out;
}


function fixFor(algorithm: KeyAlgorithm, name: SignerName, version: RekorVersion): string {
  if (version === 'v2') return 'use an ECDSA P-256 key (or a KMS P-384 key), set transparency.version: v1, or set transparency.enabled: "false"';
  if (algorithm === 'ecdsa-p384-sha384') {
    return 'use an ECC_NIST_P256 (AWS) or EC_SIGN_P256_SHA256 (GCP) key in signers.kms.kmsref, or set transparency.enabled: "false"';
  }
  return name === 'x509'
    ? 'use an ECDSA P-256 signing key (cosign generate-key-pair), set artifacts.oci.signer to another signer or "none", or set transparency.enabled: "false"'
    : 'use an ECDSA P-256 key, set artifacts.oci.signer to another signer or "none", or set transparency.enabled: "false"';
}

/**
 * Throws `config`/`SIGNING_KEY_TLOG_UNSUPPORTED` when `config` logs (transparency `true` or `manual`)
 * an artifact signed by signer `name` whose key `algorithm` Rekor v1 or cosign cannot take.
 */
export function assertRekorCompatible(config: Config, name: SignerName, algorithm: KeyAlgorithm): void {
  if (config.transparency.mode === 'false') return;
  const version: RekorVersion = config.transparency.version;
  for (const { key, entry } of loggedAs(config, name)) {
    const reason = rekorRefusalReason(algorithm, entry, version);
    if (reason === undefined) continue;
    throw new ProvenantError('config', 'SIGNING_KEY_TLOG_UNSUPPORTED', `${key} "${name}" has a ${algorithm} key that cannot be logged in Rekor: ${reason}`, {
      context: { key, signer: name, algorithm, entryType: entry, rekorVersion: version, transparency: config.transparency.mode, hint: fixFor(algorithm, name, version) },
    });
  }
}

/** `assertRekorCompatible` for a built signer; closes it before throwing. */
export async function refuseUnloggable<S extends KeySigner | { readonly keyHolder: KeySigner; close?(): Promise<void> }>(
  config: Config,
  name: SignerName,
  signer: S,
): Promise<S> {
  try {
    assertRekorCompatible(config, name, 'keyHolder' in signer ? signer.keyHolder.algorithm : signer.algorithm);
  } catch (err) {
    await signer.close?.().catch(() => undefined);
    throw err;
  }
  return signer;
}
