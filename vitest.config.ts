import { defineConfig } from 'vitest/config';

// Integration tests start real services (Redis, registry, SoftHSM, mock Sigstore) on loopback ports;
// the machine has two cores, so files run with bounded parallelism.
export const config = defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});

// vitest needs a default export from its config file; this is the one exception to STYLE.md #11.
// eslint-disable-next-line no-restricted-syntax
export default config;
