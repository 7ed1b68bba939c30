export { reconcileRun, handleFailure, createRunJobHandler, deferredRecheckMs, defaultDeferredRecheck } from './reconcile.js';
export type { RunAccess, ReconcileDeps, ReconcileOutcome } from './reconcile.js';
export { isManagedByAccepted, managedByOf, builtInManager } from './managed-by.js';
export { planArtifacts } from './plan.js';
export type { PlannedArtifact } from './plan.js';
export { processArtifacts, signAndLogOnce, storeOnce, createMemoryCheckpoints, StepError, type CheckpointStore, type ArtifactEngineDeps, type EngineArtifactResult, type EngineResult, type EngineStep, type StepInfo } from './engine.js';
