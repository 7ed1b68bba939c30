import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { provenantVersion, vsaArgs, vsaHelp, vsaRequest } from '../vsa-args.js';
import { ProvenantError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import { createOciReader, credentialsFromDockerConfig, type DockerCredentials, type OciReader } from '../../storage/oci/index.js';
import {
  type VerificationPolicy,
  type TrustPolicy,
  flagsPolicy,
  createCommitChecker,
  parseSourceMappings,
  trustedRootRekorUrl,
  parseTrustPolicy,
  createManifestReader,
  defaultTraceMaxDepth,
  traceExitCode,
  traceImage,
  type TraceGraph,
  type TraceOptions,
  vsaFromTrace,
  type EvidenceProvider,
  type ManifestSource,
  createLocalEvidence,
  createLocalManifests,
  createRekorEvidence,
  loadWorkload,
  parseWorkloadRef,
  traceWorkload,
  renderTraceHtml,
  renderTraceDot,
  renderTraceText,
} from '../../verify/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import { readDocument, type CliCommand, type CliIo } from '../io.js';
import { openTraceStores, traceStoreArgs, traceStoreHelp } from './trace-stores.js';

const help = `usage: provenant trace IMAGE@sha256:DIGEST | pod/NAME | deployment/NAME | namespace/NAME [-n NAMESPACE]
         (--key PEM_FILE [--key PEM_FILE]... | --certificate-identity SAN --certificate-oidc-issuer URL --trusted-root FILE | --policy FILE)
         [--max-depth N] [--docker-config FILE] [--insecure] [-o text|json] [--dot FILE] [--graph FILE]

Walks the supply chain of an image: verifies its attestations, then follows the materials (SLSA v0.2)
and resolved dependencies (SLSA v1) of its verified provenance to their own attestations.
  --key PEM_FILE                   public key attestations may be signed with (repeatable: any one suffices)
  --certificate-identity SAN       keyless: expected certificate SAN
  --certificate-oidc-issuer URL    keyless: expected OIDC issuer
  --trusted-root FILE              trusted_root.json (Fulcio CA, Rekor and CT keys); needed for keyless
  --policy FILE                    trust policy (YAML): per image repository / git URL glob, the identities,
                                   predicate types and builder ids accepted; the flags above become its
                                   default rule (see docs/trace.md)
  --source URL=DIR                 check git commits of URL in the local clone DIR (repeatable); file:// URLs
                                   are checked in place. Verdicts: signed-commit, unsigned-commit, commit-not-found
  --rekor-url URL                  Rekor v1 to search by image digest (intoto attestations, hashedrekord image
                                   signatures) and for gitsign commit entries; default: the trusted root's log
  --max-depth N                    links to follow from the image (default ${defaultTraceMaxDepth})
  --platform OS/ARCH[/VARIANT]|all image indexes: the platform manifests to trace (default: this host's)
  -n, --namespace NS               namespace of pod/… and deployment/… (default: the kubeconfig context's)
  --kubeconfig FILE                Kubernetes client configuration (default: $KUBECONFIG, ~/.kube/config);
                                   the user's own credentials: get/list pods, get deployments, replicasets
  --attestations DIR               offline: read attestations, signatures and manifests from DIR (local storage
                                   layout or 'provenant export' output) instead of the registry
${traceStoreHelp()}
  --docker-config FILE             registry credentials (Docker config.json)
  --insecure                       plain HTTP to registries (loopback registries always use HTTP)
  -o, --output text|json           tree with a verdict per link (default), or the graph as JSON
  --dot FILE                       also write the graph as Graphviz DOT
  --graph FILE                     also write a self-contained HTML page with the graph
${vsaHelp}Verdicts: ✔ verified  ✘ invalid signature  ! identity mismatch  ≠ policy violation  ? unsigned  ∅ not found  ⚠ unreachable
Each image also shows its image-signature verdict (cosign .sig / message-signature bundle) apart from provenance.
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

export function parseDepth(value: string | undefined): number {
  if (value === undefined) return defaultTraceMaxDepth;
  if (!/^\d{1,3}$/.test(value)) throw usage(`--max-depth must be a whole number, got ${value}`);
  return Number(value);
}

async function trustFrom(values: Record<string, unknown>, io: CliIo): Promise<TrustPolicy> {
  const file = values['policy'] as string | undefined;
  if (file === undefined) {
    const rootFile = values['trusted-root'] as string | undefined;
    return flagsPolicy(await policiesFrom(values, io, true), rootFile === undefined ? undefined : await readDocument(rootFile, io));
  }
  const flags = await policiesFrom(values, io, false);
  const rootFile = values['trusted-root'] as string | undefined;
  const trustedRoot = rootFile === undefined ? undefined : await readDocument(rootFile, io);
  const resolved = path.resolve(io.cwd, file);
  return parseTrustPolicy(await readText(resolved, 'policy file'), { baseDir: path.dirname(resolved), trustedRoot, flags });
}

async function policiesFrom(values: Record<string, unknown>, io: CliIo, required: boolean): Promise<VerificationPolicy[]> {
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
  if (policies.length === 0 && required) throw usage('--key, --certificate-identity with --certificate-oidc-issuer, or --policy is required');
  return policies;
}

/** Flags shared by `trace` and `export`. */
export const traceArgs = {
  key: { type: 'string', multiple: true },
  'certificate-identity': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'trusted-root': { type: 'string' },
  'max-depth': { type: 'string' },
  'docker-config': { type: 'string' },
  insecure: { type: 'boolean' },
  platform: { type: 'string' },
  policy: { type: 'string' },
  source: { type: 'string', multiple: true },
  'rekor-url': { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  attestations: { type: 'string' },
  ...traceStoreArgs,
} as const;

export interface TraceRun {
  readonly graph: TraceGraph;
  readonly trust: TrustPolicy;
  readonly reader: OciReader;
  readonly manifests: ManifestSource;
  /** Evidence besides the registry (Rekor, the offline directory, attestation stores). */
  readonly evidence: readonly EvidenceProvider[];
  /** Closes the store clients (`--docdb-url` …); call when done with `evidence`. */
  close(): Promise<void>;
}

/** Runs the trace the flags describe (used by `trace` and `export`). */
export async function runTrace(target: string, values: Record<string, unknown>, io: CliIo, command: string): Promise<TraceRun> {
  const maxDepth = parseDepth(values['max-depth'] as string | undefined);
  const trust = await trustFrom(values, io);
  let credentials: DockerCredentials | undefined;
  const dockerConfig = values['docker-config'] as string | undefined;
  if (dockerConfig !== undefined) credentials = credentialsFromDockerConfig(await readText(dockerConfig, 'docker config'), dockerConfig);
  const insecure = (values['insecure'] as boolean | undefined) ?? false;
  const logger = createLogger({ level: io.env['PROVENANT_LOG_LEVEL'] ?? 'error', name: 'provenant' });
  const offline = values['attestations'] as string | undefined;
  const reader = createOciReader({ config: { repository: undefined, insecure }, credentials, logger });
  let manifests: ManifestSource = createManifestReader({ insecure, credentials, logger });
  const evidence: EvidenceProvider[] = [];
  if (offline !== undefined) {
    // Air-gapped: everything comes from the directory; the registry is not contacted.
    const dir = path.resolve(io.cwd, offline);
    evidence.push(await createLocalEvidence(dir));
    manifests = createLocalManifests(dir);
  }
  const rekorUrl = (values['rekor-url'] as string | undefined) ?? trustedRootRekorUrl(trust.trustedRoot);
  if (offline === undefined && values['rekor-url'] !== undefined && trust.trustedRoot === undefined) {
    throw usage('--rekor-url needs --trusted-root (or trustedRoot: in the policy) to verify the log entries');
  }
  if (offline === undefined && rekorUrl !== undefined && trust.trustedRoot !== undefined) {
    // Discovery in the transparency log, by default whenever the trusted root names a log.
    const { createRekorReader } = await import('../../transparency/index.js');
    evidence.push(createRekorEvidence({ reader: createRekorReader({ baseUrl: rekorUrl, trustedRoot: trust.trustedRoot }) }));
  }
  // Attestation stores written by provenant's storage backends (--gcs-bucket, --archivista-url, --docdb-url).
  evidence.push(...(await openTraceStores(values, { io, logger })));
  const close = async (): Promise<void> => {
    for (const p of evidence) await p.close?.().catch(() => undefined);
  };
  const platform = values['platform'] as string | undefined;
  const options: TraceOptions = {
    ...(offline === undefined ? { reader } : {}),
    manifests,
    evidence,
    ...(platform === undefined ? {} : { platform }),
    trust,
    checkCommit: createCommitChecker({
      sources: parseSourceMappings((values['source'] as string[] | undefined) ?? [], io.cwd),
      rekorUrl,
    }),
    maxDepth,
    logger,
    onProgress: (p) => io.stderr(`${command}: [${p.done + 1}/${p.done + 1 + p.queued}] depth ${p.depth} ${p.ref}\n`),
  };
  const workload = parseWorkloadRef(target);
  let graph: TraceGraph;
  try {
    graph =
      workload === undefined
        ? await traceImage(target, options)
        : await traceWorkload(
            await loadWorkload(workload, { namespace: values['namespace'] as string | undefined, kubeconfig: values['kubeconfig'] as string | undefined, env: io.env }),
            options,
          );
  } catch (err) {
    await close();
    throw err;
  }
  return { graph, trust, reader, manifests, evidence, close };
}

export const traceCommand: CliCommand = {
  name: 'trace',
  summary: 'walk an image supply chain: attestations, materials and their attestations, as a tree or graph',
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('trace', argv, {
      ...traceArgs,
      output: { type: 'string', short: 'o' },
      dot: { type: 'string' },
      graph: { type: 'string' },
      ...vsaArgs,
    });
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    if (positionals.length !== 1) throw usage('exactly one IMAGE@sha256:DIGEST, pod/NAME, deployment/NAME or namespace/NAME is required');
    const output = values.output ?? 'text';
    if (output !== 'text' && output !== 'json') throw usage(`-o must be text or json, got ${output}`);
    const vsa = vsaRequest(values, 'trace');
    if (vsa !== undefined && parseWorkloadRef(positionals[0]!) !== undefined) throw usage('--vsa-out summarises one image: trace an image, not a workload');
    const { graph, trust, close } = await runTrace(positionals[0]!, values, io, 'trace');
    await close();
    const code = traceExitCode(graph);
    if (vsa !== undefined) {
      const policyUri = values.policy === undefined ? 'provenant:trace-flags' : pathToFileURL(path.resolve(io.cwd, values.policy)).href;
      await (await import('../vsa.js')).writeVsa(io, vsa, vsaFromTrace(graph, code === 0, { uri: policyUri, digest: trust.digest }, { now: new Date(), version: provenantVersion }));
    }
    if (values.dot !== undefined) await writeOutput(values.dot, renderTraceDot(graph), 'DOT file');
    if (values.graph !== undefined) await writeOutput(values.graph, renderTraceHtml(graph, { ok: code === 0, generatedAt: new Date().toISOString() }), 'HTML graph');
    io.stdout(output === 'json' ? `${JSON.stringify(graph, null, 2)}\n` : renderTraceText(graph));
    return code;
  },
};
