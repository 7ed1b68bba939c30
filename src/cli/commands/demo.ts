import type { CliCommand } from '../io.js';

// Placeholder until the issue that builds this command lands; it says so instead of pretending.
export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'not implemented yet',
  run: async (_argv, io) => {
    io.stderr('provenant demo: not implemented yet\n');
    return 2;
  },
};
