export { verifyBundle, type Subject, type VerificationPolicy, type VerifiedArtifact } from './verify-bundle.js';
export * from './policy.js';
export * from './inspect-attestation.js';
export * from './inspect-sources.js';
export * from './trace.js';
export * from './trace-classify.js';
export * from './trace-render.js';
export * from './trace-html.js';
export { proveTlogInclusion, withProvenTlogInclusion, type TlogInclusionOptions } from './tlog-inclusion.js';
