export {
  shouldEnqueue,
  parentPipelineRunKey,
  type EnqueueDecision,
  type EnqueueReason,
  type SkipReason,
  type FilterOptions,
} from './filter.js';
export { createRunWatcher, watchBackoffDelay, type RunWatcher, type RunWatcherOptions, type WatchBackoffOptions, type KeyInfo } from './run-watcher.js';
export { createConfigWatcher, createLatestWins, configDataKey, type ConfigWatcher, type ConfigWatcherOptions, type ConfigData } from './config-watcher.js';
