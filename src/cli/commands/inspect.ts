import type { CliCommand } from '../io.js';

// Placeholder until the issue that builds this command lands; it says so instead of pretending.
export const inspectCommand: CliCommand = {
  name: 'inspect',
  summary: 'not implemented yet',
  run: async (_argv, io) => {
    io.stderr('provenant inspect: not implemented yet\n');
    return 2;
  },
};
