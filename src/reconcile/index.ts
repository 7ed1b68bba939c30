export { reconcileRun, handleFailure, createRunJobHandler, deferredRecheckMs, defaultDeferredRecheck } from './reconcile.js';
export type { RunAccess, Wiring, ReconcileDeps, ReconcileOutcome, StorageScope } from './reconcile.js';
export { isManagedByAccepted, managedByOf, builtInManager } from './managed-by.js';
export { serviceAccountCredentials, createTtlCache, defaultServiceAccount, type PullSecretSource } from './registry-credentials.js';
export { planArtifacts } from './plan.js';
export type { PlannedArtifact } from './plan.js';
