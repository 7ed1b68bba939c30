import type { CliCommand } from '../io.js';
import { provenanceCommand } from './provenance.js';
import { signCommand } from './sign.js';
import { verifyCommand } from './verify.js';
import { configCommand } from './config.js';
import { demoCommand } from './demo.js';
import { inspectCommand } from './inspect.js';
import { traceCommand } from './trace.js';
import { controllerCommand } from './controller.js';
import { exportCommand } from './export.js';

export const commandNames = ['provenance', 'sign', 'verify', 'config', 'demo', 'inspect', 'trace', 'controller', 'export'] as const;
export type CommandName = (typeof commandNames)[number];

export const commands = {
  provenance: provenanceCommand,
  sign: signCommand,
  verify: verifyCommand,
  config: configCommand,
  demo: demoCommand,
  inspect: inspectCommand,
  trace: traceCommand,
  controller: controllerCommand,
  export: exportCommand,
} satisfies Record<CommandName, CliCommand>;
