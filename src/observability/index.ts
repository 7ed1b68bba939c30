export { createLogger, createSilentLogger, createCapturingLogger, redactPaths } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { createMetrics, startHealthServer, signingErrorTypes } from './metrics.js';
export type { Metrics, MetricKind, SigningErrorType, HealthServer } from './metrics.js';
