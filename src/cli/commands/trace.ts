import { readFile, writeFile } from 'node:fs/promises';
import { ProvenantError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import { createOciReader, credentialsFromDockerConfig, type DockerCredentials } from '../../storage/oci/index.js';
import {
  type VerificationPolicy,
  createManifestProbe,
  defaultTraceMaxDepth,
  traceExitCode,
  traceImage,
  type TraceGraph,
  renderTraceHtml,
  renderTraceDot,
  renderTraceText,
} from '../../verify/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import { parsePlatformChoice, resolveImagePlatforms } from '../image-platform.js';
import { readDocument, type CliCommand, type CliIo } from '../io.js';

const help = `usage: provenant trace IMAGE@sha256:DIGEST
         (--key PEM_FILE [--key PEM_FILE]... | --certificate-identity SAN --certificate-oidc-issuer URL --trusted-root FILE)
         [--max-depth N] [--docker-config FILE] [--insecure] [--platform P] [-o text|json] [--dot FILE] [--graph FILE]

Walks the supply chain of an image: verifies its attestations, then follows the materials (SLSA v0.2)
and resolved dependencies (SLSA v1) of its verified provenance to their own attestations.
  --key PEM_FILE                   public key attestations may be signed with (repeatable: any one suffices)
  --certificate-identity SAN       keyless: expected certificate SAN
  --certificate-oidc-issuer URL    keyless: expected OIDC issuer
  --trusted-root FILE              trusted_root.json (Fulcio CA, Rekor and CT keys); needed for keyless
  --max-depth N                    links to follow from the image (default ${defaultTraceMaxDepth})
  --docker-config FILE             registry credentials (Docker config.json)
  --insecure                       plain HTTP to registries (loopback registries always use HTTP)
  --platform P                     IMAGE is an image index: trace its platform manifest for P, os/arch[/variant]
                                   (default: this host's), or the index itself ('index')
  -o, --output text|json           tree with a verdict per link (default), or the graph as JSON
  --dot FILE                       also write the graph as Graphviz DOT
  --graph FILE                     also write a self-contained HTML page with the graph
Verdicts: ✔ verified  ✘ invalid signature  ! identity mismatch  ? unsigned  ∅ not found  ⚠ unreachable
Exit codes: 0 root verified and every signed link verified, 1 otherwise, 2 usage or input error.
`;

const usage = (message: string): ProvenantError => usageError('trace', message);

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read ${what} ${file}`, { cause });
  }
}

async function writeOutput(file: string, text: string, what: string): Promise<void> {
  try {
    await writeFile(file, text);
  } catch (cause) {
    throw new ProvenantError('input', 'OUTPUT_UNWRITABLE', `cannot write ${what} ${file}`, { cause });
  }
}

function parseDepth(value: string | undefined): number {
  if (value === undefined) return defaultTraceMaxDepth;
  if (!/^\d{1,3}$/.test(value)) throw usage(`--max-depth must be a whole number, got ${value}`);
  return Number(value);
}

async function policiesFrom(values: Record<string, unknown>, io: CliIo): Promise<VerificationPolicy[]> {
  const keys = (values['key'] as string[] | undefined) ?? [];
  const identity = values['certificate-identity'] as string | undefined;
  const issuer = values['certificate-oidc-issuer'] as string | undefined;
  const rootFile = values['trusted-root'] as string | undefined;
  if ((identity === undefined) !== (issuer === undefined)) throw usage('--certificate-identity and --certificate-oidc-issuer go together');
  const trustedRoot = rootFile === undefined ? undefined : await readDocument(rootFile, io);
  const policies: VerificationPolicy[] = [];
  for (const file of keys) policies.push({ key: await readText(file, 'key'), ...(trustedRoot === undefined ? {} : { trustedRoot }) });
  if (identity !== undefined && issuer !== undefined) {
    if (trustedRoot === undefined) throw usage('keyless verification needs --trusted-root');
    policies.push({ identity: { san: identity, issuer }, trustedRoot });
  }
  if (policies.length === 0) throw usage('--key, or --certificate-identity with --certificate-oidc-issuer, is required');
  return policies;
}

export const traceCommand: CliCommand = {
  name: 'trace',
  summary: 'walk an image supply chain: attestations, materials and their attestations, as a tree or graph',
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('trace', argv, {
      key: { type: 'string', multiple: true },
      'certificate-identity': { type: 'string' },
      'certificate-oidc-issuer': { type: 'string' },
      'trusted-root': { type: 'string' },
      'max-depth': { type: 'string' },
      'docker-config': { type: 'string' },
      insecure: { type: 'boolean' },
      platform: { type: 'string' },
      output: { type: 'string', short: 'o' },
      dot: { type: 'string' },
      graph: { type: 'string' },
    });
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    if (positionals.length !== 1) throw usage('exactly one IMAGE@sha256:DIGEST is required');
    const output = values.output ?? 'text';
    if (output !== 'text' && output !== 'json') throw usage(`-o must be text or json, got ${output}`);
    const maxDepth = parseDepth(values['max-depth']);
    const policies = await policiesFrom(values, io);
    let credentials: DockerCredentials | undefined;
    if (values['docker-config'] !== undefined) {
      credentials = credentialsFromDockerConfig(await readText(values['docker-config'], 'docker config'), values['docker-config']);
    }
    const insecure = values.insecure ?? false;
    const logger = createLogger({ level: io.env['PROVENANT_LOG_LEVEL'] ?? 'error', name: 'provenant' });

    // An index is followed to one platform manifest (the one that runs); the graph has one root.
    const choice = parsePlatformChoice(values.platform);
    if (choice === undefined || choice === 'all') throw usage(`--platform must be os/arch[/variant] or index: ${values.platform ?? ''}`);
    const [root] = await resolveImagePlatforms(positionals[0]!, choice, { insecure, credentials, logger });
    if (root?.via !== undefined) io.stderr(`trace: ${root.via} -> ${root.ref}\n`);
    const graph: TraceGraph = await traceImage(root?.ref ?? positionals[0]!, {
      reader: createOciReader({ config: { repository: undefined, insecure }, credentials, logger }),
      manifestExists: createManifestProbe({ insecure, credentials, logger }),
      policies,
      maxDepth,
      logger,
      onProgress: (p) => io.stderr(`trace: [${p.done + 1}/${p.done + 1 + p.queued}] depth ${p.depth} ${p.ref}\n`),
    });
    const code = traceExitCode(graph);
    if (values.dot !== undefined) await writeOutput(values.dot, renderTraceDot(graph), 'DOT file');
    if (values.graph !== undefined) await writeOutput(values.graph, renderTraceHtml(graph, { ok: code === 0, generatedAt: new Date().toISOString() }), 'HTML graph');
    io.stdout(output === 'json' ? `${JSON.stringify(graph, null, 2)}\n` : renderTraceText(graph));
    return code;
  },
};
