import type { Logger } from 'pino';

/**
 * A logger that drops everything without loading pino (its worker-thread transport machinery is most
 * of a CLI command's start-up when nothing is logged): for CLI commands whose log level is `silent`.
 * It has the methods provenant's code calls on a Logger (the level methods, `child`, `isLevelEnabled`,
 * `bindings`, `flush`); `level` is fixed at `silent`.
 */
export function createNoopLogger(): Logger {
  const noop = (): void => undefined;
  const logger = {
    level: 'silent',
    fatal: noop,
    error: noop,
    warn: noop,
    info: noop,
    debug: noop,
    trace: noop,
    silent: noop,
    child: () => logger,
    isLevelEnabled: () => false,
    bindings: () => ({}),
    flush: noop,
  };
  // Only the members above exist; a caller needing more of pino must take a real logger (createLogger).
  return logger as unknown as Logger;
}
