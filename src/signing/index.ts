export type { KeyAlgorithm, KeySigner, SignerDeps, Pkcs11ModuleTable } from './types.js';
export { createPkcs11ModuleTable } from './types.js';
export { hashFor, keyAlgorithmOf, keySignerFromPrivateKey } from './key-signer.js';
export { createEphemeralSigner } from './ephemeral-signer.js';
export { decryptCosignKey, cosignKeyPemTypes } from './cosign-key.js';
export { createSecretKeySigner, secretKeyFiles } from './secret-key-signer.js';
export { createFulcioSigner, type FulcioCertificateSigner, type FulcioSignerOptions } from './fulcio-signer.js';
export {
  createKmsSigner,
  createSignerFromConfig,
  createSignersFromConfig,
  createX509Signer,
  isFulcioSigner,
  kmsSchemes,
  signerFactories,
  type KmsScheme,
  type ProvenantSigner,
  type RegistryDeps,
  type SignedArtifactKind,
  type SignerSet,
} from './registry.js';
export { inTotoPayloadType, signMessage, signStatement, type SerializedBundle, type SignOptions, type Witness } from './bundle.js';
export { assertRekorCompatible, rekorRefusalReason, type RekorEntryKind, type RekorVersion } from './tlog-compat.js';
