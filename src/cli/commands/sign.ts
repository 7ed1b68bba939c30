import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { configDataFromDocument, parseConfig, type Config } from '../../config/index.js';
import { ProvenantError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import { composeStatement, formatFor, optionsFromConfig, serializeStatement } from '../../provenance/index.js';
import { createSignerFromConfig, signStatement } from '../../signing/index.js';
import { parseRun } from '../../tekton/index.js';
import { readDocument, type CliCommand } from '../io.js';

const help = `usage: provenant sign --config FILE [--signing-secrets DIR] [--child FILE]... [--out FILE] RUN

Composes the provenance statement for a finished TaskRun/PipelineRun and signs it with the signer the
config selects for the run's kind (x509: the signing Secret's key, or Fulcio keyless; kms: signers.kms.kmsref).
Prints the Sigstore bundle (v0.3, DSSE) as JSON. No transparency log entry is made.
  RUN                    TaskRun or PipelineRun, JSON or YAML ('-' = stdin)
  --config FILE          chains-config keys as a JSON/YAML map, or a ConfigMap manifest
  --signing-secrets DIR  the signing Secret's files (x509.pem or cosign.key + cosign.password)
  --child FILE           a child TaskRun of a PipelineRun (repeatable)
  --out FILE             write the bundle there instead of stdout
`;

function usageError(message: string): ProvenantError {
  return new ProvenantError('input', 'USAGE', message, { context: { hint: "see 'provenant sign --help'" } });
}

export const signCommand: CliCommand = {
  name: 'sign',
  summary: 'sign the provenance of a finished run and print the Sigstore bundle',
  run: async (argv, io) => {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        options: {
          config: { type: 'string' },
          'signing-secrets': { type: 'string' },
          child: { type: 'string', multiple: true },
          out: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (err) {
      throw usageError((err as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    if (positionals.length !== 1) throw usageError('exactly one RUN file is required');
    if (values.config === undefined) throw usageError('--config is required');

    const result = parseConfig(configDataFromDocument(await readDocument(values.config, io), values.config));
    for (const w of result.warnings) io.stderr(`provenant sign: warning: ${w.key}: ${w.message}\n`);
    let config: Config = result.config;
    const secrets = values['signing-secrets'];
    if (secrets !== undefined) config = { ...config, signers: { ...config.signers, secretPath: secrets } };

    const run = parseRun(await readDocument(positionals[0] ?? '-', io), { requireMetadata: false });
    const children = [];
    for (const c of values.child ?? []) children.push(parseRun(await readDocument(c, io), { kind: 'TaskRun', requireMetadata: false }));

    const signerName = run.kind === 'TaskRun' ? config.artifacts.taskrun.signer : config.artifacts.pipelinerun.signer;
    if (signerName === 'none') {
      throw new ProvenantError('config', 'SIGNING_DISABLED', `the config's signer for ${run.kind} is "none"`, {
        context: { hint: `set artifacts.${run.kind.toLowerCase()}.signer to x509 or kms` },
      });
    }
    const logger = createLogger({ level: io.env['PROVENANT_LOG_LEVEL'] ?? 'warn', name: 'provenant' });
    const statement = composeStatement({ format: formatFor(config, run.kind), run, children, options: optionsFromConfig(config, run.kind), logger });
    const signer = await createSignerFromConfig(config, { logger, env: io.env }, signerName);
    try {
      const bundle = await signStatement(signer, serializeStatement(statement));
      const text = `${JSON.stringify(bundle, null, 2)}\n`;
      if (values.out === undefined) io.stdout(text);
      else await writeFile(values.out, text);
    } finally {
      await signer.close?.();
    }
    return 0;
  },
};
