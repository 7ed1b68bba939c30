import type { Signer } from '@sigstore/sign';
import type { KmsAuthConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';

/** What every signer factory receives (STYLE.md #9: dependencies are passed in). */
export interface SignerDeps {
  readonly logger: Logger;
  /**
   * PKCS#11 modules loaded so far. C_Initialize/C_Finalize are per process, so signers sharing a
   * module must share this table; the wiring creates one per process. Default: one per signer.
   */
  readonly pkcs11Modules?: Pkcs11ModuleTable;
  readonly env?: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
  /** `signers.kms.auth.*` (Vault address, token, OIDC/SPIRE login), for the KMS signers that use it. */
  readonly kmsAuth?: KmsAuthConfig;
}

/**
 * The key and the hash its signatures use. P-384 keys held by provenant (Secret, PKCS#11) sign SHA-256,
 * as cosign's key files and Tekton Chains' x509.pem do and as cosign 2.5, Rekor v1's `dsse` type and
 * sigstore-js verify; KMS P-384 keys can only sign SHA-384 (docs/signing.md, "Hash per key").
 */
export type KeyAlgorithm = 'ecdsa-p256-sha256' | 'ecdsa-p384-sha256' | 'ecdsa-p384-sha384' | 'ed25519';

/** A Signer whose key is long-lived; publicKeyPem lets verifiers and Fulcio use it. */
export interface KeySigner extends Signer {
  readonly publicKeyPem: string;
  readonly algorithm: KeyAlgorithm;
  close?(): Promise<void>;
}

/** Loaded PKCS#11 modules by path (the entries belong to pkcs11-signer.ts; opaque elsewhere). */
export interface Pkcs11ModuleTable {
  readonly modules: Map<string, unknown>;
}

export function createPkcs11ModuleTable(): Pkcs11ModuleTable {
  return { modules: new Map() };
}
