export * from './run-key.js';
export * from './types.js';
export * from './annotations.js';
export type { ParseRunOptions } from './parse-run.js';
export { parseRun, parseParamValue, goJsonRunSpec, isRunDone, assertRunDone, succeededCondition } from './parse-run.js';
// Kubernetes access (written by the watch/RunStore helper), exported through the room's index.
export * from './run-store.js';
export * from './kube-client.js';
export { isDone, hasCopiedSignature, signingState, runSigningState, isReconciled, parentPipelineRun, pipelineRunLabel, type SigningState } from './run-rules.js';
