import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ProvenantError } from '../errors.js';

/** A usage error (`input`, exit code 2) pointing at the command's help. */
export function usageError(command: string, message: string): ProvenantError {
  return new ProvenantError('input', 'USAGE', message, { context: { hint: `see 'provenant ${command} --help'` } });
}

const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * `node:util` parseArgs for one command, with positionals allowed, `-h/--help` added, and its errors
 * (unknown option, missing value) turned into usage errors.
 */
export function parseCommandArgs<const O extends ParseArgsOptionsConfig>(command: string, argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { ...options, ...helpOption } });
  } catch (err) {
    throw usageError(command, (err as Error).message);
  }
}
