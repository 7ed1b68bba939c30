import { runCli } from './run.js';
import { processIo } from './io.js';

process.exitCode = await runCli(process.argv.slice(2), processIo());
