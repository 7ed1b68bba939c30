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
