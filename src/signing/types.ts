import type { Signer } from '@sigstore/sign';
import type { KmsAuthConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';

/** What every signer factory receives (STYLE.md #9: dependencies are passed in). */
export interface SignerDeps {
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
  /** `signers.kms.auth.*` (Vault address, token, OIDC/SPIRE login), for the KMS signers that use it. */
  readonly kmsAuth?: KmsAuthConfig;
}

export type KeyAlgorithm = 'ecdsa-p256-sha256' | 'ecdsa-p384-sha384' | 'ed25519';

/** A Signer whose key is long-lived; publicKeyPem lets verifiers and Fulcio use it. */
export interface KeySigner extends Signer {
  readonly publicKeyPem: string;
  readonly algorithm: KeyAlgorithm;
  close?(): Promise<void>;
}
