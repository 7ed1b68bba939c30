export { reconcileRun, handleFailure } from './reconcile.js';
export type { RunAccess, Wiring, ReconcileDeps, ReconcileOutcome } from './reconcile.js';
export { planArtifacts } from './plan.js';
export type { PlannedArtifact } from './plan.js';
