import { randomUUID } from 'node:crypto';
/**
 * The production queue: BullMQ on Redis, shared by any number of controller replicas.
 * Redis only buffers run keys and checkpoints; the run annotations stay the source of truth.
 */
import { Queue, UnrecoverableError, WaitingError, Worker, type IRedisClient, type Job, type RedisOptions } from 'bullmq';
import { ProvenantError, errorMessage } from '../errors.js';
import { formatRunKey, type RunKey } from '../tekton/run-key.js';
import {
  backoffDelayMs,
  isRetryable,
  mergeCheckpoints,
  resolveQueueOptions,
  runPriority,
  validateConcurrency,
  untimed,
  validateRunKey,
} from './policy.js';
import { backlogConcurrency, backlogPaused, defaultFreshWindowMs, drainDue, laneOf, type Lane } from './lanes.js';
import { describeRedisUrl, redisOptionsFromUrl, type RedisConnectionSettings } from './redis-connection.js';
import type {
  AddOptions,
  AddResult,
  Checkpoints,
  CloseOptions,
  JobContext,
  JobHandler,
  JobQueue,
  JobResult,
  ProcessOptions,
  QueueDepth,
  QueueOptions,
  RunJobData,
} from './types.js';

export const defaultQueueName = 'provenant-runs';
/** The backlog lane is a second BullMQ queue next to the fresh one: `<queueName>-backlog`. */
export const backlogQueueSuffix = '-backlog';
/** Checkpoint sets kept in memory against Redis losing jobs mid-work (a few KB each). */
const maxLocalCheckpoints = 10_000;
const jobName = 'run';
/** Name of the custom backoff strategy stored in each job's options. */
const backoffType = 'provenant';

export interface BullQueueOptions extends QueueOptions, RedisConnectionSettings {
  /** Default `provenant-runs`; replicas sharing a name share the work. */
  readonly queueName?: string;
  /** Redis key prefix; default BullMQ's `bull`. */
  readonly prefix?: string;
  /**
   * How long a worker's job lock lives without renewal (default 30 s). A worker that dies mid-job
   * gives its job back after this long, to be resumed (with its checkpoints) by another worker.
   */
  readonly lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired (default 30 s). */
  readonly stalledIntervalMs?: number;
  /** How many crashes mid-job a job survives before it is failed (default 3). */
  readonly maxStalledCount?: number;
  /**
   * How often the queue checks that Redis still holds its marker key (default 5 s). A missing or
   * changed marker means Redis restarted empty or was flushed, so every waiting job is gone: the
   * `onReset` listeners are told (the controller relists runs). 0 disables the check.
   */
  readonly resetCheckMs?: number;
}

type RunJob = Job<RunJobData, JobResult | void, string>;

const laneCommandName = 'provenantLanes';
/** KEYS: fresh-seen key, drain key, the backlog queue's wait list and prioritized set. ARGV: op, ms. */
const laneScript = `
if ARGV[1] == 'poll' then return redis.call('PTTL', KEYS[1]) end
if redis.call('LLEN', KEYS[3]) + redis.call('ZCARD', KEYS[4]) == 0 then return 0 end
if redis.call('SET', KEYS[2], '1', 'PX', ARGV[2], 'NX') then return 1 end
return -1
`;

/** Node's certificate verification error codes: retrying will not help, the trust setup is wrong. */
const tlsVerifyCodes = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function redisError(err: unknown, url: string): ProvenantError {
  // Redis reports auth problems with the error-code prefix of its reply (a protocol code, not prose).
  if (err instanceof Error && /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message)) {
    return new ProvenantError('config', 'QUEUE_AUTH_FAILED', 'Redis rejected the credentials', {
      cause: err,
      context: { url, hint: 'check the password in REDIS_URL or the Redis password Secret' },
    });
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && tlsVerifyCodes.has(code)) {
    return new ProvenantError('config', 'QUEUE_TLS_FAILED', 'the Redis server certificate could not be verified', {
      cause: err,
      context: { url, tlsCode: code, hint: 'give the CA of the Redis server certificate (tls.ca)' },
    });
  }
  return new ProvenantError('transient', 'QUEUE_UNAVAILABLE', 'Redis is not reachable', { cause: err, context: { url } });
}

/**
 * Connects (failing with `QUEUE_AUTH_FAILED` or `QUEUE_UNAVAILABLE` within `connectTimeoutMs`) and
 * returns the queue. Workers start on `process()`; `close()` closes every connection opened here.
 */
export async function createBullQueue(options: BullQueueOptions): Promise<JobQueue> {
  const { attempts, backoff, keepFailed, now, random, lanes: timing } = resolveQueueOptions(options);
  const url = describeRedisUrl(options.redisUrl);
  const queueName = options.queueName ?? defaultQueueName;
  const logger = options.logger.child({ component: 'queue', queue: queueName, redis: url });
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const connection: RedisOptions = {
    ...redisOptionsFromUrl(options),
    // Fail fast at startup instead of retrying a wrong password forever; later reconnects keep retrying.
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
  };
  const prefix = options.prefix === undefined ? {} : { prefix: options.prefix };

  const queueOptions = {
    connection,
    ...prefix,
    defaultJobOptions: {
      attempts,
      backoff: { type: backoffType },
      // A completed run is "done" by its annotations; removing the job lets the uid be enqueued again.
      removeOnComplete: true,
      removeOnFail: { count: keepFailed },
    },
  };
  // One BullMQ queue per lane (lanes.ts), each with its own Worker and slots: backlog jobs never hold
  // a fresh run's slot, so a fresh job is fetched at once while backlog ones run.
  const queue: Queue<RunJobData, void, string> = new Queue(queueName, queueOptions);
  const freshWindowMs = options.freshWindowMs ?? defaultFreshWindowMs;
  let lastConnectionError: unknown;
  let failFast: (() => void) | undefined;
  queue.on('error', (err: Error) => {
    lastConnectionError = err;
    logger.warn({ err: errorMessage(err) }, 'redis connection error');
    // ioredis keeps reconnecting with a wrong password or an untrusted certificate; at startup that
    // is a config error, so fail now instead of waiting for the timeout.
    if (redisError(err, url).kind === 'config') failFast?.();
  });

  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    queue.waitUntilReady().then(() => true as const),
    new Promise<false>((resolve) => {
      failFast = () => resolve(false);
      timer = setTimeout(() => resolve(false), connectTimeoutMs);
    }),
  ])
    .catch((err: unknown) => {
      lastConnectionError = err;
      return false as const;
    })
    .finally(() => {
      clearTimeout(timer);
      failFast = undefined;
    });
  if (!ready) {
    await queue.close().catch(() => undefined);
    throw redisError(lastConnectionError, url);
  }
  // The backlog lane's queue connects once the first one did: a refused connection (wrong password,
  // untrusted certificate) is then refused once, with no second handshake cut short by the close.
  const backlogQueue: Queue<RunJobData, void, string> = new Queue(`${queueName}${backlogQueueSuffix}`, queueOptions);
  const queues: Record<Lane, Queue<RunJobData, void, string>> = { fresh: queue, backlog: backlogQueue };
  backlogQueue.on('error', (err: Error) => logger.warn({ err: errorMessage(err) }, 'redis connection error (backlog queue)'));
  const closeQueues = async (): Promise<void> => {
    await Promise.all([queue.close(), backlogQueue.close()]).catch(() => undefined);
  };
  // waitUntilReady resolves once connected; a wrong password only shows on the first command.
  try {
    await Promise.all([queue.getJobCounts('wait'), backlogQueue.getJobCounts('wait')]);
  } catch (err) {
    await closeQueues();
    throw redisError(err, url);
  }

  // Redis holds no jobs without this marker: one value per Redis lifetime, shared by all replicas.
  const markerKey = `${options.prefix ?? 'bull'}:${queueName}:provenant-marker`;
  const resetListeners: (() => void)[] = [];
  let knownMarker: string | undefined;
  const readMarker = async (): Promise<string | undefined> => {
    const client = await queue.backend.client;
    const existing = await client.get(markerKey);
    if (existing !== null) return existing;
    // Two replicas racing here each set their own value; the loser sees a change later and relists
    // once more, which costs a list and nothing else.
    const marker = randomUUID();
    await client.set(markerKey, marker);
    return marker;
  };
  try {
    knownMarker = await readMarker();
  } catch (err) {
    await closeQueues();
    throw redisError(err, url);
  }
  let checking = false;
  const resetCheckMs = options.resetCheckMs ?? 5000;
  const resetTimer =
    resetCheckMs > 0
      ? setInterval(() => {
          // One check at a time: while Redis is down, commands wait for the reconnect.
          if (checking) return;
          checking = true;
          readMarker()
            .then((marker) => {
              if (marker === undefined || marker === knownMarker) return;
              knownMarker = marker;
              logger.warn('Redis lost the queue (restarted empty or flushed); asking for a relist of the runs');
              for (const listener of resetListeners) listener();
            })
            .catch((err: unknown) => logger.debug({ err: errorMessage(err) }, 'queue marker check failed'))
            .finally(() => {
              checking = false;
            });
        }, resetCheckMs)
      : undefined;
  resetTimer?.unref();

  /**
   * Fresh traffic seen, shared by every process on this queue (lanes.ts): a key whose TTL is
   * `freshQuietMs`, set by whichever process adds, starts or finishes a fresh job (at most every
   * `shareEveryMs` per process), read by each working process every `pollMs`. Sharing is what makes
   * the pause hold across replicas: they share the machine's cores (or the API server, Redis and
   * Rekor), so one replica's backlog slows another's fresh runs. A second key, set NX with a TTL of
   * `backlogDrainMs`, lets one process at a time start the backlog's drain job.
   */
  const freshKey = `${options.prefix ?? 'bull'}:${queueName}:provenant-fresh-seen`;
  const drainKey = `${options.prefix ?? 'bull'}:${queueName}:provenant-backlog-drain`;
  const shareEveryMs = Math.min(250, timing.freshQuietMs / 4);
  const pollMs = Math.max(20, Math.min(250, timing.freshQuietMs > 0 ? timing.freshQuietMs / 4 : 250, timing.backlogDrainMs / 2));
  /** When this process last saw fresh traffic, and until when another process's signal holds (epoch ms). */
  let lastFreshAt = Number.NEGATIVE_INFINITY;
  let remoteFreshUntil = Number.NEGATIVE_INFINITY;
  let lastSharedAt = Number.NEGATIVE_INFINITY;
  /** Re-evaluates the backlog gate of this process's workers (set by `process()`). */
  let evaluateGate: (() => void) | undefined;
  const freshSeen = (): void => {
    const t = Date.now();
    lastFreshAt = t;
    if (timing.freshQuietMs > 0 && t - lastSharedAt >= shareEveryMs) {
      lastSharedAt = t;
      queue.backend.client
        .then((client) => client.set(freshKey, '1', { PX: Math.ceil(timing.freshQuietMs) }))
        .catch((err: unknown) => logger.debug({ err: errorMessage(err) }, 'fresh signal not shared'));
    }
    evaluateGate?.();
  };
  let gatePoll: NodeJS.Timeout | undefined;
  /**
   * One script for the gate's reads: `poll` returns the fresh key's PTTL; `drain` takes the drain
   * token (SET NX PX) only when backlog jobs wait, returning 1 when taken, 0 when nothing waits, -1
   * when another process holds it.
   */
  let laneCommand: Promise<IRedisClient> | undefined;
  const lanes = (op: 'poll' | 'drain', ms: number): Promise<number> => {
    laneCommand ??= queue.backend.client.then(
      (client) => {
        client.defineCommand(laneCommandName, { numberOfKeys: 4, lua: laneScript });
        return client;
      },
      (err: unknown) => {
        laneCommand = undefined;
        throw err;
      },
    );
    return laneCommand.then(
      (client) =>
        client.runCommand(laneCommandName, [freshKey, drainKey, backlogQueue.keys['wait'], backlogQueue.keys['prioritized'], op, String(Math.ceil(ms))]) as Promise<number>,
    );
  };

  /**
   * The latest checkpoints of jobs this process worked on and has not finished, kept until the job
   * completes or finally fails. Redis is the source for retries; this copy only matters when Redis
   * lost the job mid-work. Bounded: the oldest entries go first.
   */
  const localCheckpoints = new Map<string, Checkpoints>();
  const remember = (uid: string, checkpoints: Checkpoints): void => {
    localCheckpoints.delete(uid);
    localCheckpoints.set(uid, checkpoints);
    while (localCheckpoints.size > maxLocalCheckpoints) {
      const oldest = localCheckpoints.keys().next().value;
      if (oldest === undefined) break;
      localCheckpoints.delete(oldest);
    }
  };

  let workers: Worker<RunJobData, JobResult | void, string>[] = [];
  const activeJobs = new Set<string>();
  const settled = new Set<() => void>();
  let closing = false;
  let closed: Promise<void> | undefined;

  function allSettled(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (activeJobs.size === 0) return resolve();
      const finish = (): void => {
        settled.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const check = (): void => {
        if (activeJobs.size === 0) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      settled.add(check);
    });
  }

  async function processJob(job: RunJob, handle: JobHandler, opts: ProcessOptions, signal: AbortSignal): Promise<JobResult | void> {
    let data = job.data;
    const uid = data.key.uid;
    const remembered = localCheckpoints.get(uid);
    if (remembered !== undefined) {
      // Redis lost the job this process was working on (restarted empty): its checkpoints survive
      // here, so the signature already logged in Rekor is reused instead of signing again.
      data = { ...data, checkpoints: mergeCheckpoints(remembered, data.checkpoints) };
      logger.info({ run: formatRunKey(data.key), uid }, 'resuming from checkpoints kept in memory (the queue lost them)');
    }
    const run = formatRunKey(data.key);
    const ctx: JobContext = {
      attempt: job.attemptsMade + 1,
      maxAttempts: attempts,
      get data() {
        return data;
      },
      signal,
      checkpoint: async (patch: Checkpoints) => {
        const next: RunJobData = { ...data, checkpoints: mergeCheckpoints(data.checkpoints, patch) };
        remember(uid, next.checkpoints);
        await job.updateData(next);
        data = next;
      },
    };
    try {
      const result = await handle(ctx);
      localCheckpoints.delete(uid);
      return result;
    } catch (err) {
      // Shutting down: the job is handed back (its lock expires), this is not a failed attempt.
      if (closing && signal.aborted) throw err instanceof Error ? err : new Error(String(err));
      const retryable = isRetryable(err);
      const final = !retryable || ctx.attempt >= attempts;
      const code = err instanceof ProvenantError ? err.code : undefined;
      logger[final ? 'error' : 'warn'](
        { run, uid: data.key.uid, attempt: ctx.attempt, maxAttempts: attempts, code, final, err: errorMessage(err) },
        final ? 'job failed' : 'job attempt failed, will retry',
      );
      if (opts.onFailed !== undefined) {
        try {
          await opts.onFailed(ctx, err, final);
        } catch (cbErr) {
          logger.error({ run, err: errorMessage(cbErr) }, 'onFailed callback threw');
        }
      }
      if (final) localCheckpoints.delete(uid);
      if (!retryable) throw new UnrecoverableError(code ?? 'permanent failure');
      throw err instanceof Error ? err : new Error(String(err));
    }
  }

  const self: JobQueue = {
    async add(key: RunKey, opts: AddOptions = {}): Promise<AddResult> {
      validateRunKey(key.uid);
      if (closing) throw new ProvenantError('transient', 'QUEUE_CLOSED', 'the queue is closed');
      let checkpoints: Checkpoints = {};
      try {
        // The uid is unique across both lanes: ask both for its state (one script each, sent together),
        // without reading the job (its checkpoints can be KBs) unless it finally failed.
        const lanes = [queue, backlogQueue] as const;
        const states = await Promise.all(lanes.map((q) => q.getJobState(key.uid)));
        if (states.some((st) => st !== 'completed' && st !== 'failed' && st !== 'unknown')) return 'duplicate';
        for (const [i, state] of states.entries()) {
          if (state === 'unknown') continue;
          const q = lanes[i] ?? queue;
          // Enqueued again after a final failure: keep what was achieved (one signature, one Rekor entry).
          if (state === 'failed') checkpoints = (await q.getJob(key.uid))?.data.checkpoints ?? checkpoints;
          await q.remove(key.uid);
        }
        const data: RunJobData = {
          key: { kind: key.kind, namespace: key.namespace, name: key.name, uid: key.uid },
          enqueuedAt: now(),
          checkpoints,
          ...(untimed(opts) ? { untimed: true } : {}),
        };
        const lane = laneOf(opts, now(), freshWindowMs);
        const delay = opts.delayMs ?? 0;
        await queues[lane].add(jobName, data, { jobId: key.uid, priority: runPriority(opts.createdAt ?? now()), ...(delay > 0 ? { delay } : {}) });
        if (lane === 'fresh' && delay === 0 && data.untimed !== true) freshSeen();
        return 'added';
      } catch (err) {
        if (err instanceof ProvenantError) throw err;
        throw redisError(err, url);
      }
    },

    process(handle: JobHandler, opts: ProcessOptions): void {
      validateConcurrency(opts.concurrency);
      if (workers.length > 0) {
        throw new ProvenantError('permanent', 'QUEUE_ALREADY_PROCESSING', 'process() was already called on this queue');
      }
      const backlogLimit = backlogConcurrency(opts.concurrency, options.backlogConcurrency);
      let freshInWork = 0;
      /** Fresh jobs in work that carry a run time (arrivals, not nudges): they keep the shared signal up. */
      let arrivalsInWork = 0;
      let backlogInWork = 0;
      let lastBacklogStartAt = Number.NEGATIVE_INFINITY;
      /** A drain token is held: the backlog Worker was resumed, one job at a time, for one job. */
      let draining = false;
      let drainTaken = false;
      let checkingDrain = false;
      /** Until the shared signal was read once, the backlog lane stays paused (another process may be busy with fresh runs). */
      let signalRead = timing.freshQuietMs === 0;
      const paused = (): boolean => {
        if (!signalRead) return true;
        const seenAt = Math.max(lastFreshAt, remoteFreshUntil - timing.freshQuietMs);
        return backlogPaused(freshInWork, Date.now() - seenAt, timing);
      };
      const backlogWorker = (): Worker<RunJobData, JobResult | void, string> | undefined => workers[1];
      /** The drain job: one backlog job per `backlogDrainMs` for all processes (the NX key), if any waits. */
      const tryDrain = (worker: Worker<RunJobData, JobResult | void, string>): void => {
        checkingDrain = true;
        // Checked again after an interval whatever the outcome (another process drained, nothing waits).
        lastBacklogStartAt = Date.now();
        (async () => {
          const won = await lanes('drain', timing.backlogDrainMs);
          if (won !== 1 || closing || !paused()) return;
          draining = true;
          drainTaken = false;
          worker.concurrency = 1;
          await worker.resume();
        })()
          .catch((err: unknown) => logger.debug({ err: errorMessage(err) }, 'backlog drain check failed'))
          .finally(() => {
            checkingDrain = false;
          });
      };
      // The backlog Worker fetches only while no fresh traffic is seen, or for its drain job (lanes.ts).
      const evaluate = (): void => {
        const worker = backlogWorker();
        if (worker === undefined || closing) return;
        if (!paused()) {
          draining = false;
          if (worker.concurrency !== backlogLimit) worker.concurrency = backlogLimit;
          if (worker.isPaused()) void worker.resume();
          return;
        }
        if (draining) return;
        if (!worker.isPaused()) void worker.pause(true);
        if (!checkingDrain && drainDue(backlogInWork, Date.now() - lastBacklogStartAt, timing)) tryDrain(worker);
      };
      evaluateGate = evaluate;
      let polling = false;
      const poll = (): void => {
        // A long fresh job keeps the signal up for the other processes too.
        if (arrivalsInWork > 0) freshSeen();
        if (timing.freshQuietMs === 0 || polling) return evaluate();
        polling = true;
        lanes('poll', 0)
          .then((ttl) => {
            remoteFreshUntil = ttl > 0 ? Date.now() + ttl : Number.NEGATIVE_INFINITY;
            signalRead = true;
          })
          .catch((err: unknown) => logger.debug({ err: errorMessage(err) }, 'fresh signal not read'))
          .finally(() => {
            polling = false;
            evaluate();
          });
      };
      gatePoll = setInterval(poll, pollMs);
      gatePoll.unref();
      const processorFor =
        (lane: Lane) =>
        // Three parameters: BullMQ passes the abort signal only to processors that declare it.
        async (job: RunJob, token: string | undefined, signal?: AbortSignal): Promise<JobResult | void> => {
          if (lane === 'backlog' && paused()) {
            const worker = backlogWorker();
            if (draining && !drainTaken) {
              // This is the drain job: fetch no more until the next one is due.
              drainTaken = true;
              void worker?.pause(true);
            } else {
              // Fetched as the pause began (a fetch already under way): hand it back, untouched.
              void worker?.pause(true);
              if (token !== undefined) await job.moveToWait(token);
              throw new WaitingError();
            }
          }
          const id = job.id ?? job.data.key.uid;
          activeJobs.add(id);
          const arrival = lane === 'fresh' && job.data.untimed !== true;
          if (lane === 'fresh') {
            freshInWork++;
            if (arrival) arrivalsInWork++;
            if (arrival) freshSeen();
            else evaluate();
          } else {
            backlogInWork++;
            lastBacklogStartAt = Date.now();
          }
          try {
            return await processJob(job, handle, opts, signal ?? new AbortController().signal);
          } finally {
            activeJobs.delete(id);
            if (lane === 'fresh') {
              freshInWork--;
              if (arrival) arrivalsInWork--;
              if (arrival) freshSeen();
              else evaluate();
            } else {
              backlogInWork--;
              if (drainTaken) draining = drainTaken = false;
              evaluate();
            }
            for (const notify of settled) notify();
          }
        };
      workers = (['fresh', 'backlog'] as const).map((lane) => {
        const worker = new Worker<RunJobData, JobResult | void, string>(queues[lane].name, processorFor(lane), {
          connection,
          ...prefix,
          concurrency: lane === 'fresh' ? opts.concurrency : backlogLimit,
          settings: { backoffStrategy: (attemptsMade: number) => backoffDelayMs(attemptsMade, backoff, random) },
          lockDuration: options.lockDurationMs ?? 30_000,
          stalledInterval: options.stalledIntervalMs ?? 30_000,
          maxStalledCount: options.maxStalledCount ?? 3,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: keepFailed },
        });
        worker.on('error', (err: Error) => logger.warn({ err: errorMessage(err), lane }, 'worker error'));
        // After completion (the job is removed), so the re-add is not deduplicated against itself. The
        // job goes back to its own lane (completedAt 0 is "long ago": backlog).
        worker.on('completed', (job: RunJob, result: JobResult | void) => {
          const requeueAfterMs = result?.requeueAfterMs;
          if (requeueAfterMs === undefined || closing) return;
          const times = lane === 'backlog' ? { completedAt: 0 } : {};
          self
            .add(job.data.key, { ...times, delayMs: requeueAfterMs })
            .catch((err: unknown) => logger.warn({ run: formatRunKey(job.data.key), err: errorMessage(err) }, 'requeue failed'));
        });
        worker.on('stalled', (jobId: string) => logger.warn({ uid: jobId, lane }, 'job stalled (a worker died mid-job); resuming'));
        return worker;
      });
      evaluate();
      poll();
    },

    async depth(): Promise<QueueDepth> {
      try {
        const counts = await Promise.all(
          [queue, backlogQueue].map((q) => q.getJobCounts('wait', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed')),
        );
        const sum = (k: string): number => counts.reduce((n, c) => n + (c[k] ?? 0), 0);
        return {
          waiting: sum('wait') + sum('prioritized'),
          active: sum('active'),
          delayed: sum('delayed'),
          failed: sum('failed'),
        };
      } catch (err) {
        throw redisError(err, url);
      }
    },

    onReset(listener: () => void): void {
      resetListeners.push(listener);
    },

    close(opts: CloseOptions): Promise<void> {
      closed ??= (async () => {
        closing = true;
        clearInterval(resetTimer);
        clearInterval(gatePoll);
        if (workers.length > 0) {
          if (opts.graceful) {
            await Promise.all(workers.map((w) => w.pause(true)));
            await allSettled(opts.timeoutMs ?? 30_000);
          }
          const abandoned = activeJobs.size;
          if (abandoned > 0) {
            logger.warn({ abandoned }, 'closing with active jobs; they will be resumed after the lock expires');
          }
          // Always abort and force: a job fetched while pausing would otherwise make close() wait for
          // it without a bound. Aborted jobs stay locked in Redis until the lock expires, then any
          // worker's stalled check puts them back with their checkpoints.
          for (const w of workers) w.cancelAllJobs('queue closed');
          await Promise.all(workers.map((w) => w.close(true).catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'worker close'))));
        }
        await Promise.all([queue, backlogQueue].map((q) => q.close().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'queue close'))));
      })();
      return closed;
    },
  };
  return self;
}
