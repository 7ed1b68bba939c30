export type {
  AddOptions,
  AddResult,
  BackoffOptions,
  Checkpoints,
  CloseOptions,
  FailedHandler,
  JobContext,
  JobHandler,
  JobResult,
  JobQueue,
  ProcessOptions,
  QueueDepth,
  QueueOptions,
  RunJobData,
} from './types.js';
export { createMemoryQueue } from './memory-queue.js';
export { createBullQueue } from './redis-schemes.js';
export type { BullQueueOptions } from './bull-queue.js';
export { describeRedisUrl, redisOptionsFromUrl, type RedisConnectionSettings } from './redis-connection.js';
export {
  backoffDelayMs,
  defaultAttempts,
  defaultBackoff,
  defaultKeepFailed,
  isRetryable,
  maxPriority,
  mergeCheckpoints,
  priorityBucketMs,
  runPriority,
} from './policy.js';
export { defaultBacklogDrainMs, defaultFreshQuietMs } from './lanes.js';
export { createRedisLock, type RedisLock, type RedisLockOptions } from './redis-lock.js';
