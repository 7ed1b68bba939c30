export {
  shouldEnqueue,
  parentPipelineRunKey,
  hasCopiedSignature,
  isDone,
  signedUidAnnotation,
  pipelineRunLabel,
  type EnqueueDecision,
  type EnqueueReason,
  type SkipReason,
  type FilterOptions,
} from './filter.js';
export { createRunWatcher, backoffDelay, type RunWatcher, type RunWatcherOptions, type BackoffOptions, type KeyInfo } from './run-watcher.js';
