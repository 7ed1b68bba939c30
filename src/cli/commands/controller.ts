import type { CliCommand } from '../io.js';

// Placeholder until the issue that builds this command lands; it says so instead of pretending.
export const controllerCommand: CliCommand = {
  name: 'controller',
  summary: 'not implemented yet',
  run: async (_argv, io) => {
    io.stderr('provenant controller: not implemented yet\n');
    return 2;
  },
};
