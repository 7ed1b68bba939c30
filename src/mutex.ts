/**
 * The one mutex implementation of the project: FIFO per key, within one process, no global state
 * (every holder set is the instance's own). Used for OCI tag writes and PKCS#11 sessions.
 */

/** Runs `fn` while holding the lock named `key`. */
export type KeyedLock = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

export function createKeyedMutex(): KeyedLock {
  /** Tail of the chain of holders per key. */
  const tails = new Map<string, Promise<void>>();
  return async (key, fn) => {
    const previous = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/** A single FIFO mutex (one key). */
export function createMutex(): <T>(fn: () => Promise<T>) => Promise<T> {
  const lock = createKeyedMutex();
  return (fn) => lock('', fn);
}
