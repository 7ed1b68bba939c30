export { shouldUpload } from './upload-policy.js';
export { createRekorWitness, classifyRekorError, type RekorWitnessDeps } from './rekor-witness.js';
export { transparencyEntryTypes, defaultTransparencyEntryType, type TransparencyEntryType } from './entry-type.js';
export { transparencyAnnotationValue, tlogEntryOf, envelopeJsonOf, type TlogEntrySummary } from './tlog-entry.js';
export {
  createTransparentBundler,
  inTotoPayloadType,
  type BundleArtifact,
  type CreateBundleOptions,
  type TransparencyCheckpoint,
  type TransparentBundler,
  type TransparentBundlerDeps,
} from './transparent-bundler.js';
export {
  createRekorReader,
  normaliseDigest,
  type RekorLogEntry,
  type RekorReader,
  type RekorReaderOptions,
  type RekorEnvelope,
  type RekorVerifier,
} from './rekor-reader.js';
export { decodeRekorBody, type DecodedRekorBody } from './rekor-entry.js';
export {
  checkTlogEntry,
  evidenceFromBundleEntry,
  evidenceFromRekorV1,
  tlogKeysOf,
  type TlogCheckOptions,
  type TlogCheckResult,
  type TlogEntryEvidence,
  type TlogKey,
} from './tlog-trust.js';
