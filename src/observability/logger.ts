import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear in a log object. Tokens, PINs, passwords, auth headers
 * and key material never reach a log line (STYLE.md #10).
 */
export const redactPaths: readonly string[] = [
  'password',
  'pin',
  'token',
  'authorization',
  'privateKey',
  'secret',
  'credentials',
  '*.password',
  '*.pin',
  '*.token',
  '*.authorization',
  '*.Authorization',
  '*.privateKey',
  '*.secret',
  '*.credentials',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
];

export interface LoggerOptions {
  readonly level?: string;
  readonly name?: string;
  /** Where lines go; defaults to stderr so CLI stdout stays machine-readable. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name ?? 'provenant',
      level: options.level ?? process.env['PROVENANT_LOG_LEVEL'] ?? 'info',
      redact: { paths: [...redactPaths], censor: '[redacted]' },
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination(2),
  );
}

/** A logger that drops everything: for pure code paths in tests. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A logger writing JSON lines into an array, for tests that assert on what was logged. */
export function createCapturingLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination: DestinationStream = { write: (s: string) => void lines.push(s) };
  return { logger: createLogger({ level, destination }), lines };
}
