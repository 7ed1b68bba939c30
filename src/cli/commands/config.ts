import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { configDataFromDocument, parseConfig, type ConfigProblem } from '../../config/index.js';
import { isProvenantError } from '../../errors.js';
import type { CliCommand, CliIo } from '../io.js';

const help = `usage: provenant config validate FILE...

Validates chains-config ConfigMap manifests (or plain maps of chains-config keys), JSON or YAML,
multi-document YAML allowed (documents that are not ConfigMaps named chains-config are skipped
in manifests that hold several objects). Prints every problem of every file.
Exit codes: 0 all valid, 1 some configuration is invalid, 2 usage or unreadable file.
`;

function formatProblems(list: readonly ConfigProblem[], prefix: string): string {
  return list.map((p) => `${prefix}${p.key}${p.value === undefined ? '' : `=${JSON.stringify(p.value)}`}: ${p.message}\n`).join('');
}

/** The chains-config documents of one file: a lone map/ConfigMap, or each ConfigMap in a multi-doc file. */
function configDocuments(docs: unknown[]): unknown[] {
  if (docs.length === 1) return docs;
  return docs.filter((d) => {
    const o = d as { kind?: unknown; metadata?: { name?: unknown } } | null;
    return o?.kind === 'ConfigMap' && o.metadata?.name === 'chains-config';
  });
}

async function validateFile(file: string, io: CliIo): Promise<'valid' | 'invalid' | 'unreadable'> {
  let text: string;
  try {
    text = file === '-' ? await io.readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    io.stderr(`${file}: cannot read: ${(err as Error).message}\n`);
    return 'unreadable';
  }
  const parsed = parseAllDocuments(text);
  const docs: unknown[] = [];
  for (const d of Array.isArray(parsed) ? parsed : [parsed]) {
    if (d.errors.length > 0) {
      io.stderr(`${file}: not valid YAML/JSON: ${d.errors[0]?.message ?? 'parse error'}\n`);
      return 'unreadable';
    }
    const js: unknown = d.toJS();
    if (js !== null && js !== undefined) docs.push(js);
  }
  const targets = configDocuments(docs);
  if (targets.length === 0) {
    io.stderr(`${file}: no chains-config ConfigMap found\n`);
    return 'invalid';
  }
  let ok = true;
  for (const doc of targets) {
    try {
      const { warnings } = parseConfig(configDataFromDocument(doc, file));
      io.stdout(`${file}: valid\n${formatProblems(warnings, '  warning: ')}`);
    } catch (err) {
      if (!isProvenantError(err)) throw err;
      ok = false;
      const problems = (err.context['problems'] as ConfigProblem[] | undefined) ?? [];
      io.stdout(`${file}: invalid (${err.code})\n${problems.length ? formatProblems(problems, '  error: ') : `  error: ${err.message}\n`}`);
    }
  }
  return ok ? 'valid' : 'invalid';
}

export const configCommand: CliCommand = {
  name: 'config',
  summary: 'validate chains-config ConfigMaps (config validate FILE...)',
  run: async (argv, io) => {
    const { positionals, values } = parseArgs({ args: [...argv], allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    const [sub, ...files] = positionals;
    if (sub !== 'validate' || files.length === 0) {
      io.stderr(help);
      return 2;
    }
    let worst = 0;
    for (const f of files) {
      const r = await validateFile(f, io);
      worst = Math.max(worst, r === 'valid' ? 0 : r === 'invalid' ? 1 : 2);
    }
    return worst;
  },
};
