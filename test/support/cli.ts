/** Running CLI commands in-process with captured output, for tests. */
import { runCli, type CliIo } from '../../src/cli/index.js';

export interface CapturingIo extends CliIo {
  readonly out: string[];
  readonly err: string[];
}

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** A CliIo that records stdout/stderr. The env is only what is given: nothing leaks in from the machine. */
export function captureIo(options: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: string } = {}): CapturingIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    readStdin: async () => options.stdin ?? '',
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
  };
}

export async function runCaptured(argv: readonly string[], options: Parameters<typeof captureIo>[0] = {}): Promise<CliResult> {
  const io = captureIo(options);
  const code = await runCli(argv, io);
  return { code, out: io.out.join(''), err: io.err.join('') };
}
