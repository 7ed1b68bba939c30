export { reconcileRun, handleFailure, createRunJobHandler, deferredRecheckMs, defaultDeferredRecheck } from './reconcile.js';
export type { RunAccess, ReconcileDeps, ReconcileOutcome } from './reconcile.js';
export { isManagedByAccepted, managedByOf, builtInManager } from './managed-by.js';
export { planArtifacts, indexCandidates, platformKey } from './plan.js';
export type { PlannedArtifact, PlatformManifestMap } from './plan.js';
export { readPlatformManifestMap } from './platform-manifests.js';
export { processArtifacts, createMemoryCheckpoints, StepError, type CheckpointStore, type ArtifactEngineDeps, type EngineArtifactResult, type EngineResult, type EngineStep, type StepInfo } from './engine.js';
