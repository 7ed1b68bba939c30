import { isProvenantError, errorMessage } from '../errors.js';
import { commands, commandNames, type CommandName } from './commands/index.js';
import type { CliIo } from './io.js';

function usage(): string {
  const lines = commandNames.map((n) => `  ${n.padEnd(12)} ${commands[n].summary}`);
  return `usage: provenant <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'provenant <command> --help' for a command's options.\n`;
}

/** Runs the CLI in-process and returns the exit code (tests call this directly). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  if (!(commandNames as readonly string[]).includes(name)) {
    io.stderr(`provenant: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    const command = await commands[name as CommandName].load();
    return await command.run(rest, io);
  } catch (err) {
    if (isProvenantError(err)) {
      io.stderr(`provenant ${name}: ${err.code}: ${err.message}${err.context.hint ? `\n  hint: ${err.context.hint}` : ''}\n`);
      return err.kind === 'input' || err.kind === 'config' ? 2 : 1;
    }
    io.stderr(`provenant ${name}: ${errorMessage(err)}\n`);
    return 1;
  }
}
