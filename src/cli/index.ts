export { runCli } from './run.js';
export { processIo, readDocument } from './io.js';
export type { CliIo, CliCommand } from './io.js';
