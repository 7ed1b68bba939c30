export type { InTotoStatement, ProvenanceOptions, ProvenanceFormat, FormatInput, StatementSubject, ProvenanceWarning, ProvenanceWarnings, ArtifactSubject } from './statement.js';
export { statementTypeV01, statementTypeV1, predicateTypeSlsaV02, predicateTypeSlsaV1 } from './statement.js';
export {
  composeProvenance,
  composeStatement,
  type ComposeInput,
  serializeStatement,
  statementSubjects,
  predicateTypeOf,
  statementTypeOf,
  extractImageSubjects,
  formatFor,
  optionsFromConfig,
} from './compose.js';
export { simpleSigningPayload } from './simple-signing.js';
export { formats } from './formats.js';
export { checkDigest, type DigestCheck } from './digest.js';
export { parseImageDigestReference, normaliseRepository, defaultRegistry, type ImageReference } from './docker-reference.js';
export { appendArtifacts, type DigestedArtifact } from './artifacts.js';
export {
  extractOciImages,
  extractSignableTargets,
  extractStructuredTargets,
  extractBuildArtifacts,
  subjectsFromResults,
  subjectsFromBuildArtifacts,
  stepImageMaterials,
  sidecarImageMaterials,
  taskInputMaterials,
  pipelineInputMaterials,
  spdxGit,
  type ImageArtifact,
  type UriDigest,
} from './type-hinting.js';
