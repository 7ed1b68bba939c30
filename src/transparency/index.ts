export { shouldUpload } from './upload-policy.js';
export { createRekorWitness, classifyRekorError, type RekorWitnessDeps } from './rekor-witness.js';
export {
  createTransparencyWitness,
  defaultTransparencyEntryType,
  transparencyEntryTypes,
  transparencyVersions,
  type TransparencyEntryType,
  type TransparencyVersion,
  type TransparencyWitnessDeps,
} from './entry-type.js';
export { transparencyAnnotationValue, tlogEntryOf, envelopeJsonOf, type TlogEntrySummary } from './tlog-entry.js';
export {
  createTransparentBundler,
  inTotoPayloadType,
  isFinal as isCheckpointFinal,
  signOnly as signUnwitnessed,
  witness as witnessCheckpoint,
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
  bundleEntryFromRekorV1,
  checkTlogEntry,
  evidenceFromBundleEntry,
  evidenceFromRekorV1,
  tlogKeysOf,
  type BundleTlogEntryJson,
  type TlogCheckOptions,
  type TlogCheckResult,
  type TlogEntryEvidence,
  type TlogKey,
} from './tlog-trust.js';
export { hashLeaf, rootFromInclusionProof, verifyConsistency } from './merkle.js';
export { createRekorV2Witness, hashedRekordV002, type RekorV2WitnessDeps } from './rekor-v2-witness.js';
export { createTileReader, tileIndexPath, type TileReader, type TileReaderOptions } from './rekor-v2-tiles.js';
export { resolveTransparency, type TransparencyTargets } from './resolve.js';
export { createTsaWitness, isReadableTimestamp, type TsaTimestamper, type TsaWitnessDeps } from './tsa-witness.js';
