import { writeFile } from 'node:fs/promises';
import { stringify as toYaml } from 'yaml';
import { applyTransparencyFlags, configDataFromDocument, parseConfig, type Config, type StorageName } from '../../config/index.js';
import { ProvenantError } from '../../errors.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { createMemoryCheckpoints, indexCandidates, planArtifacts, processArtifacts, readPlatformManifestMap, StepError } from '../../reconcile/index.js';
import { createSignerFromConfig, type ProvenantSigner, type SerializedBundle, type Witness } from '../../signing/index.js';
import { createIndexReader, createStorageBackends, type StorageBackend, type StorageDeps } from '../../storage/index.js';
import {
  parseRun,
  signedAnnotation,
  signedUidAnnotation,
  transparencyAnnotation,
  type Run,
  type RunKey,
} from '../../tekton/index.js';
import {
  createTransparencyWitness,
  createTsaWitness,
  resolveTransparency,
  tlogEntryOf,
  transparencyAnnotationValue,
  type TsaTimestamper,
} from '../../transparency/index.js';
import { loadDockerCredentials } from '../../verify/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import { readDocument, type CliCommand, type CliIo } from '../io.js';

const help = `usage: provenant sign --config FILE [--signing-secrets DIR] [--child FILE]... [--out FILE]
         [--storage oci,tekton,local] [--rekor-url URL | --no-tlog] [--tsa-url URL] [--local-dir DIR] [--run-out FILE]
         [--docker-config FILE] [--insecure] RUN

Composes the provenance statement for a finished TaskRun/PipelineRun and signs it with the signer the
config selects for the run's kind (x509: the signing Secret's key, or Fulcio keyless; kms: signers.kms.kmsref).
Prints the provenance Sigstore bundle (v0.3, DSSE) as JSON. Storage locations are reported on stderr.
  RUN                    TaskRun or PipelineRun, JSON or YAML ('-' = stdin)
  --config FILE          chains-config keys as a JSON/YAML map, or a ConfigMap manifest
  --signing-secrets DIR  the signing Secret's files (x509.pem or cosign.key + cosign.password)
  --child FILE           a child TaskRun of a PipelineRun (repeatable)
  --out FILE             write the bundle there instead of stdout
  --rekor-url URL        the Rekor to log in (overrides transparency.url; turns transparency.enabled on
                         unless the config says "manual", where the run's transparency-upload annotation decides)
  --no-tlog              no transparency log entry, whatever transparency.enabled says
  --tsa-url URL          RFC 3161 timestamp authority (overrides signers.x509.tsa.url)
                         Logging and timestamps otherwise follow the config, as in the controller. A keyless
                         config (signers.x509.fulcio.enabled) with neither a log nor a TSA is refused.
  --storage LIST         store what was signed (comma list; default none = stdout only):
                           oci     attestation next to each image subject (storage.oci.* config keys)
                           tekton  the run file with Chains' annotations added (see --run-out)
                           local   a directory (--local-dir, else storage.local.path)
                           gcs, archivista, docdb  as the controller does (storage.gcs.*, storage.archivista.url,
                                   storage.docdb.* config keys)
                         TaskRuns also get a simple-signing image signature per image result when
                         artifacts.oci.signer is not "none", stored in the listed backends that
                         artifacts.oci.storage names (default: oci).
  --local-dir DIR        root of the local store
  --run-out FILE         where tekton storage writes the annotated run (default RUN.signed.json; .yaml/.yml = YAML)
  --docker-config FILE   registry credentials (default $DOCKER_CONFIG/config.json, ~/.docker/config.json)
  --insecure             plain HTTP / unverified TLS to the registry
`;

const usage = (message: string): ProvenantError => usageError('sign', message);

function stderrLogger(io: CliIo, level: string): Logger {
  return createLogger({ level: io.env['PROVENANT_LOG_LEVEL'] ?? level, name: 'provenant', destination: { write: (s: string) => io.stderr(s) } });
}

interface StoreOptions {
  readonly storage: readonly string[];
  readonly localDir: string | undefined;
  readonly dockerConfig: string | undefined;
  readonly insecure: boolean;
  readonly tsa: TsaTimestamper | undefined;
}

export const signCommand: CliCommand = {
  name: 'sign',
  summary: 'sign the provenance of a finished run, print the Sigstore bundle, optionally log it in Rekor and store it',
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('sign', argv, {
      config: { type: 'string' },
      'signing-secrets': { type: 'string' },
      child: { type: 'string', multiple: true },
      out: { type: 'string' },
      storage: { type: 'string' },
      'rekor-url': { type: 'string' },
      'no-tlog': { type: 'boolean' },
      'tsa-url': { type: 'string' },
      'local-dir': { type: 'string' },
      'run-out': { type: 'string' },
      'docker-config': { type: 'string' },
      insecure: { type: 'boolean' },
    });
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    if (positionals.length !== 1) throw usage('exactly one RUN file is required');
    if (values.config === undefined) throw usage('--config is required');
    const runPath = positionals[0] ?? '-';
    const storage = (values.storage ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s !== 'none');
    if (storage.includes('tekton') && runPath === '-' && values['run-out'] === undefined) throw usage('--storage tekton with RUN on stdin needs --run-out');
    const rekorUrl = values['rekor-url'];
    if (rekorUrl !== undefined && !/^https?:\/\//.test(rekorUrl)) throw usage('--rekor-url must be an http(s) URL');
    if (rekorUrl !== undefined && values['no-tlog'] === true) throw usage('--rekor-url and --no-tlog exclude each other');
    if (values['tsa-url'] !== undefined && !/^https?:\/\//.test(values['tsa-url'])) throw usage('--tsa-url must be an http(s) URL');

    const configData = configDataFromDocument(await readDocument(values.config, io), values.config);
    const result = parseConfig(applyTransparencyFlags(configData, { rekorUrl, noTlog: values['no-tlog'], tsaUrl: values['tsa-url'] }));
    for (const w of result.warnings) io.stderr(`provenant sign: warning: ${w.key}: ${w.message}\n`);
    let config: Config = result.config;
    const secrets = values['signing-secrets'];
    if (secrets !== undefined) config = { ...config, signers: { ...config.signers, secretPath: secrets } };

    const rawRun = await readDocument(runPath, io);
    const run = parseRun(rawRun, { requireMetadata: false });
    const children = [];
    for (const c of values.child ?? []) children.push(parseRun(await readDocument(c, io), { kind: 'TaskRun', requireMetadata: false }));

    const signerName = run.kind === 'TaskRun' ? config.artifacts.taskrun.signer : config.artifacts.pipelinerun.signer;
    if (signerName === 'none') {
      throw new ProvenantError('config', 'SIGNING_DISABLED', `the config's signer for ${run.kind} is "none"`, {
        context: { hint: `set artifacts.${run.kind.toLowerCase()}.signer to x509 or kms` },
      });
    }
    const logger = stderrLogger(io, 'warn');
    const targets = resolveTransparency(config, run.annotations ?? {});
    const tsa = targets.tsaUrl === undefined ? undefined : createTsaWitness({ url: targets.tsaUrl, logger });
    const witnesses: Witness[] = [...(targets.rekorUrl === undefined ? [] : [createTransparencyWitness({ transparency: { ...config.transparency, url: targets.rekorUrl }, logger })]), ...(tsa ? [tsa] : [])];
    const provenance = await signAndStore(
      { run, children, rawRun, runPath, runOut: values['run-out'], config, witnesses, rekorUrl: targets.rekorUrl, logger, io },
      { storage, localDir: values['local-dir'], dockerConfig: values['docker-config'], insecure: values.insecure ?? false, tsa },
    );
    const text = `${JSON.stringify(provenance, null, 2)}\n`;
    if (values.out === undefined) io.stdout(text);
    else await writeFile(values.out, text);
    return 0;
  },
};

interface SignContext {
  readonly run: Run;
  readonly children: readonly Run[];
  readonly rawRun: unknown;
  readonly runPath: string;
  readonly runOut: string | undefined;
  readonly config: Config;
  readonly witnesses: readonly Witness[];
  readonly rekorUrl: string | undefined;
  readonly logger: Logger;
  readonly io: CliIo;
}

function runKeyOf(run: Run): RunKey {
  if (run.name === '' || run.uid === '') {
    throw new ProvenantError('input', 'RUN_METADATA_MISSING', 'storing needs the run\'s metadata.name and metadata.uid', {
      context: { hint: 'use the run as `kubectl get -o yaml` prints it' },
    });
  }
  return { kind: run.kind, namespace: run.namespace === '' ? 'default' : run.namespace, name: run.name, uid: run.uid };
}

/**
 * The controller's per-artifact engine with in-memory checkpoints: signs every planned artifact that
 * has somewhere to go (the provenance always; image signatures of a TaskRun when a listed backend is
 * also in artifacts.oci.storage), logs them, stores them, and returns the provenance bundle.
 */
async function signAndStore(ctx: SignContext, options: StoreOptions): Promise<SerializedBundle> {
  const { run, config, logger, io } = ctx;
  const names = [...new Set(options.storage)] as StorageName[];
  const key = names.length === 0 ? undefined : runKeyOf(run);
  const added: Record<string, string> = {};
  const deps: StorageDeps = {
    config: {
      storage: {
        ...config.storage,
        oci: { ...config.storage.oci, insecure: config.storage.oci.insecure || options.insecure },
        local: { path: options.localDir ?? config.storage.local.path },
      },
      signers: config.signers,
    },
    logger,
    env: io.env,
    tektonDeferPatch: true,
    ...(names.includes('oci') ? { ociCredentials: await loadDockerCredentials(options.dockerConfig, io.env) } : {}),
    ...(options.tsa ? { ociTimestamper: options.tsa.timestamp } : {}),
  };
  const backends = new Map<string, StorageBackend>(createStorageBackends(names, deps).map((b) => [b.name, b]));
  // Provenance goes to every listed backend; image signatures to those artifacts.oci.storage also names.
  // artifacts.oci.sign-index-manifests: built images that are indexes, read as the controller does.
  const candidates = indexCandidates({ run, children: ctx.children, config });
  const indexes = createIndexReader({
    insecure: deps.config.storage.oci.insecure,
    credentials: candidates.length === 0 ? undefined : (deps.ociCredentials ?? (await loadDockerCredentials(options.dockerConfig, io.env))),
    logger,
  });
  const platforms = await readPlatformManifestMap(candidates, (image) => indexes.platformManifests(image));
  const plan = planArtifacts({ run, children: ctx.children, config, logger, platforms })
    .map((a) => ({ ...a, storage: a.type === 'provenance' ? names : names.filter((n) => config.artifacts.oci.storage.includes(n)) }))
    .filter((a) => a.type === 'provenance' || a.storage.length > 0);
  const signers = new Map<string, ProvenantSigner>();
  try {
    for (const name of new Set(plan.map((a) => a.signer))) signers.set(name, await createSignerFromConfig(config, { logger, env: io.env }, name));
    const result = await processArtifacts(plan, {
      run: key ?? { kind: run.kind, namespace: run.namespace, name: run.name, uid: run.uid },
      signer: (artifact) => signers.get(artifact.signer) as ProvenantSigner,
      witnesses: ctx.witnesses,
      logs: ctx.rekorUrl !== undefined,
      storage: (name) => {
        const backend = backends.get(name);
        if (backend === undefined) throw new ProvenantError('config', 'STORAGE_NOT_WIRED', `storage backend ${name} is not configured`);
        return backend;
      },
      checkpoints: createMemoryCheckpoints(),
      logger,
      runAnnotations: run.annotations ?? {},
      onStored: (artifact, name, stored) => {
        for (const location of stored.locations) io.stderr(`provenant sign: stored ${artifact.type} ${artifact.shortKey} in ${name}: ${location}\n`);
      },
    }).catch((err: unknown) => {
      throw err instanceof StepError ? err.inner : err;
    });
    Object.assign(added, result.annotations);
    const provenance = result.artifacts.find((r) => r.artifact.type === 'provenance')?.bundle;
    if (provenance === undefined) {
      throw new ProvenantError('config', 'SIGNING_DISABLED', `the config signs no provenance for ${run.kind}`);
    }
    const entry = tlogEntryOf(provenance);
    if (entry !== undefined && ctx.rekorUrl !== undefined) added[transparencyAnnotation] = transparencyAnnotationValue(ctx.rekorUrl, entry.logIndex);
    if (key !== undefined && names.includes('tekton')) await writeAnnotatedRun(ctx, key, added);
    return provenance;
  } finally {
    for (const signer of signers.values()) await signer.close?.();
    for (const backend of backends.values()) await backend.close?.();
  }
}

/** The `tekton` backend without a cluster: the run document with the annotations Chains would patch in. */
async function writeAnnotatedRun(ctx: SignContext, key: RunKey, added: Record<string, string>): Promise<void> {
  const doc = structuredClone(ctx.rawRun) as Record<string, unknown>;
  const metadata = (typeof doc['metadata'] === 'object' && doc['metadata'] !== null ? doc['metadata'] : {}) as Record<string, unknown>;
  const annotations = (typeof metadata['annotations'] === 'object' && metadata['annotations'] !== null ? metadata['annotations'] : {}) as Record<string, string>;
  doc['metadata'] = {
    ...metadata,
    annotations: { ...annotations, ...added, [signedAnnotation]: 'true', [signedUidAnnotation]: key.uid },
  };
  const out = ctx.runOut ?? `${ctx.runPath.replace(/\.(json|ya?ml)$/i, '')}.signed.json`;
  const text = /\.ya?ml$/i.test(out) ? toYaml(doc) : `${JSON.stringify(doc, null, 2)}\n`;
  try {
    await writeFile(out, text);
  } catch (cause) {
    throw new ProvenantError('input', 'OUTPUT_UNWRITABLE', `cannot write ${out}`, { cause });
  }
  ctx.io.stderr(`provenant sign: wrote the annotated run to ${out}\n`);
}
