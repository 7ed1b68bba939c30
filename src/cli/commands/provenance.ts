import type { ProvenantError } from '../../errors.js';
import { configDataFromDocument, defaultConfig, formatNames, parseConfig, type Config, type FormatName } from '../../config/index.js';
import { createLogger } from '../../observability/logger.js';
import { composeProvenance, formatFor, optionsFromConfig } from '../../provenance/index.js';
import { parseRun } from '../../tekton/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import { readDocument, type CliCommand } from '../io.js';

const help = `usage: provenant provenance [--format F] [--config FILE] [--child FILE]... [--compact] RUN

Prints the in-toto statement Tekton Chains would sign for a finished TaskRun/PipelineRun.
  RUN            TaskRun or PipelineRun, JSON or YAML ('-' = stdin)
  --format F     ${formatNames.join(' | ')} (default: the config's format for the run's kind)
  --config FILE  chains-config keys as a JSON/YAML map, or a ConfigMap manifest
  --child FILE   a child TaskRun of a PipelineRun (repeatable)
  --compact      one line (the exact bytes that would be signed)
`;

const usage = (message: string): ProvenantError => usageError('provenance', message);

export const provenanceCommand: CliCommand = {
  name: 'provenance',
  summary: 'print the provenance statement for a finished run',
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('provenance', argv, {
      format: { type: 'string' },
      config: { type: 'string' },
      child: { type: 'string', multiple: true },
      compact: { type: 'boolean' },
    });
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    if (positionals.length !== 1) throw usage('exactly one RUN file is required');
    const format = values.format;
    if (format !== undefined && !(formatNames as readonly string[]).includes(format)) {
      throw usage(`unknown format ${JSON.stringify(format)} (allowed: ${formatNames.join(', ')})`);
    }

    let config: Config = defaultConfig();
    if (values.config !== undefined) {
      const data = configDataFromDocument(await readDocument(values.config, io), values.config);
      const result = parseConfig(data);
      config = result.config;
      for (const w of result.warnings) io.stderr(`provenant provenance: warning: ${w.key}: ${w.message}\n`);
    }

    // The CLI accepts Chains' unit-test fixtures, some of which carry no metadata.
    const run = parseRun(await readDocument(positionals[0] ?? '-', io), { requireMetadata: false });
    const children = [];
    for (const c of values.child ?? []) children.push(parseRun(await readDocument(c, io), { kind: 'TaskRun', requireMetadata: false }));

    const logger = createLogger({ level: io.env['PROVENANT_LOG_LEVEL'] ?? 'warn', name: 'provenant' });
    const { statement, warnings } = composeProvenance({
      format: (format as FormatName | undefined) ?? formatFor(config, run.kind),
      run,
      children,
      options: optionsFromConfig(config, run.kind),
    });
    for (const w of warnings) logger[w.level](w.fields, w.message);
    io.stdout(values.compact ? `${JSON.stringify(statement)}\n` : `${JSON.stringify(statement, null, 2)}\n`);
    return 0;
  },
};
