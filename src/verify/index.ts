export { verifyBundle, type Subject, type VerificationPolicy, type VerifiedArtifact } from './verify-bundle.js';
