import type { CliCommand } from '../io.js';

export const commandNames = ['provenance', 'sign', 'verify', 'config', 'demo', 'inspect', 'trace', 'controller', 'rekor'] as const;
export type CommandName = (typeof commandNames)[number];

/**
 * A command as the dispatcher knows it before it is needed: its one-line summary (for the usage
 * text) and one dynamic import of its module, so `provenant X` loads X's dependencies and nothing
 * of the others (a KMS SDK, gRPC, Redis, client-node). The summary must equal the module's own
 * (test/unit/cli/lazy-commands.test.ts checks).
 */
export interface LazyCommand {
  readonly summary: string;
  readonly load: () => Promise<CliCommand>;
}

export const commands = {
  provenance: {
    summary: 'print the provenance statement for a finished run',
    load: async () => (await import('./provenance.js')).provenanceCommand,
  },
  sign: {
    summary: 'sign the provenance of a finished run, print the Sigstore bundle, optionally log it in Rekor and store it',
    load: async () => (await import('./sign.js')).signCommand,
  },
  verify: {
    summary: 'verify attestations (bundle file, run annotations, image in a registry) against a key or keyless identity and a policy',
    load: async () => (await import('./verify.js')).verifyCommand,
  },
  config: {
    summary: 'validate chains-config ConfigMaps (config validate FILE...)',
    load: async () => (await import('./config.js')).configCommand,
  },
  demo: {
    summary: 'run the controller on the embedded default (no cluster, no Redis) and verify the results',
    load: async () => (await import('./demo.js')).demoCommand,
  },
  inspect: {
    summary: "show a run's signing status and decode its stored attestations (unverified)",
    load: async () => (await import('./inspect.js')).inspectCommand,
  },
  trace: {
    summary: 'walk an image supply chain: attestations, materials and their attestations, as a tree or graph',
    load: async () => (await import('./trace.js')).traceCommand,
  },
  controller: {
    summary: 'run the controller (watch runs, sign, store, record)',
    load: async () => (await import('./controller.js')).controllerCommand,
  },
  rekor: {
    summary: 'search a Rekor log by artifact digest, or get one entry, verified against the trusted root',
    load: async () => (await import('./rekor.js')).rekorCommand,
  },
} as const satisfies Record<CommandName, LazyCommand>;
