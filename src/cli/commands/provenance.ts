import type { CliCommand } from '../io.js';

// Placeholder until the issue that builds this command lands; it says so instead of pretending.
export const provenanceCommand: CliCommand = {
  name: 'provenance',
  summary: 'not implemented yet',
  run: async (_argv, io) => {
    io.stderr('provenant provenance: not implemented yet\n');
    return 2;
  },
};
