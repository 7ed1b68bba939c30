/**
 * The Redis-backed queue, behind one dynamic import: BullMQ and ioredis (about 80 MB and most of a
 * second to load on a small machine) are loaded only when a Redis URL is configured, never by the
 * in-process queue or by CLI commands.
 */
import type { BullQueueOptions } from './bull-queue.js';
import type { JobQueue } from './types.js';

export async function createBullQueue(options: BullQueueOptions): Promise<JobQueue> {
  return (await import('./bull-queue.js')).createBullQueue(options);
}
