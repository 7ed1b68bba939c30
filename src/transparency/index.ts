export { shouldUpload } from './upload-policy.js';
export { createRekorWitness, classifyRekorError, type RekorWitnessDeps } from './rekor-witness.js';
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
export { resolveTransparency, type TransparencyTargets } from './resolve.js';
export { createTsaWitness, isReadableTimestamp, type TsaTimestamper, type TsaWitnessDeps } from './tsa-witness.js';
