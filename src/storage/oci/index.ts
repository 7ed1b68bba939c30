export { createOciStorage, imageSubjects, parseRepositoryOverride } from './oci-storage.js';
export type { OciStorageDeps } from './oci-storage.js';
export { createOciReader, bundleFromLegacyAnnotations } from './oci-reader.js';
export type { OciReader, OciReaderDeps, StoredAttestations, StoredEnvelope, StoredSignature } from './oci-reader.js';
export { credentialsFromDockerConfig, mergeDockerCredentials, canonicalRegistryHost, noCredentials } from './credentials.js';
export type { DockerCredentials, RegistryCredential } from './credentials.js';
export { createRegistryClient, registryRequestsSent, sha256Digest } from './registry-client.js';
export type { RegistryClient, RegistryClientDeps, Descriptor, FetchedManifest } from './registry-client.js';
export { parseImageDigestRef, parseRepository, digestTag } from './reference.js';
export type { ImageDigestRef, RepositoryRef } from './reference.js';
export { dsseEnvelopeBytes, cosignEnvelopeJson } from './layouts.js';
export { createTagWriter, settleMsFor, type TagLock, type TagWriter, type TagWriteCoordination } from './tag-update.js';
export { mergeSignatureLayers, hasSignatureLayers, signatureIdentity, verificationStrength } from './layer-merge.js';
export type { LayerTimestamper } from './layer-timestamp.js';
export {
  createIndexReader,
  defaultIndexLimits,
  formatPlatform,
  hostPlatform,
  isIndexMediaType,
  parsePlatform,
  platformManifestsOfIndex,
  readPlatformManifests,
  selectPlatformManifests,
  type IndexLimits,
  type IndexReader,
  type IndexReaderDeps,
  type Platform,
  type PlatformManifest,
} from './image-index.js';
