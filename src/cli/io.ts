// node:fs, not node:fs/promises: loading the latter costs ~6 ms of a CLI call (readline, watchers; measured).
import { readFileSync, statSync } from 'node:fs';
import { ProvenantError } from '../errors.js';
import { limits } from '../limits.js';

/** Streams and environment a CLI command uses; passed in so tests can run commands in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => Promise<string>;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  /** Returns the process exit code: 0 ok, 1 rejected/failed, 2 usage or input error. */
  readonly run: (argv: readonly string[], io: CliIo) => Promise<number>;
}

export function processIo(): CliIo {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Reads a JSON or YAML document from a path (`-` = stdin). Errors are `input` errors naming the file. */
export async function readDocument(pathOrDash: string, io: CliIo): Promise<unknown> {
  let text: string;
  const tooLarge = (size: number): ProvenantError =>
    new ProvenantError('input', 'INPUT_TOO_LARGE', `${pathOrDash} has ${size} bytes, over the limit of ${limits.cliDocument.maxBytes}`, {
      context: { hint: 'see docs/limits.md' },
    });
  try {
    if (pathOrDash !== '-') {
      const size = statSync(pathOrDash).size;
      if (size > limits.cliDocument.maxBytes) throw tooLarge(size);
    }
    text = pathOrDash === '-' ? await io.readStdin() : readFileSync(pathOrDash, 'utf8');
  } catch (cause) {
    if (cause instanceof ProvenantError) throw cause;
    throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read ${pathOrDash}: ${(cause as Error).message}`, {
      cause,
      context: { hint: 'check the path and permissions' },
    });
  }
  if (text.length > limits.cliDocument.maxBytes) throw tooLarge(text.length);
  // YAML is a superset of JSON; parse JSON strictly first for exact number/string handling (and
  // without loading the YAML parser).
  const json = text.trimStart().startsWith('{') || text.trimStart().startsWith('[');
  const parseYaml = json ? undefined : (await import('./yaml.js')).parseYaml;
  try {
    return parseYaml === undefined ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new ProvenantError('input', 'INPUT_UNPARSABLE', `${pathOrDash} is neither valid JSON nor YAML: ${(cause as Error).message}`, {
      cause,
    });
  }
}
