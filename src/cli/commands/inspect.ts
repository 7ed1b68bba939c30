import type { SerializedBundle } from '@sigstore/bundle';
import { stringify as toYaml } from 'yaml';
import type { ProvenantError} from '../../errors.js';
import { errorMessage, isProvenantError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import { createOciReader, imageSubjects, readLocal } from '../../storage/index.js';
import {
  reasonAnnotation,
  retriesAnnotation,
  signedUidAnnotation,
  signingState,
  transparencyAnnotation,
  type RunKind,
} from '../../tekton/index.js';
import {
  artifactsFromAnnotations,
  bundleFromEnvelope,
  bundleFromMessageSignature,
  describeBundle,
  type AttestationDescription,
  loadDockerCredentials,
  loadLiveRun,
} from '../../verify/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import type { CliCommand, CliIo } from '../io.js';

const help = `usage: provenant inspect taskrun|pipelinerun NAME [-n NS] [--kubeconfig FILE] [-o table|json|yaml]
         [--local-dir DIR] [--gcs-bucket B] [--archivista-url URL] [--docdb-url URL] [--grafeas-project P [--grafeas-note N]]
         [--docker-config FILE] [--insecure] [--skip-oci]

Shows a run's signing status and decodes the attestations stored for it, WITHOUT verifying them
(use 'provenant verify' for that): the run's tekton annotations, the local store (--local-dir), and the
OCI registry of each image subject (best effort; unreachable registries are noted, not fatal).
  -n, --namespace NS     namespace (default: the kubeconfig context's, else "default")
  --kubeconfig FILE      default: $KUBECONFIG, ~/.kube/config, in-cluster
  -o, --output FORMAT    table (default), json or yaml
  --local-dir DIR        also read the local storage backend's directory
  --gcs-bucket BUCKET    also read the gcs backend's objects (Application Default Credentials)
  --archivista-url URL   also read the envelopes whose gitoids the archivista backend recorded on the run
  --docdb-url URL        also read the documents the docdb backend stored (mongo://db/coll?id_field=Name,
                         dynamodb://table?partition_key=Name or firestore://projects/…/documents/coll?name_field=name;
                         MongoDB URL from $MONGO_SERVER_URL_PATH or $MONGO_SERVER_URL)
  --grafeas-project P    also read the grafeas backend's occurrences for the run's artifacts (project P)
  --grafeas-note N       storage.grafeas.noteid (default tekton-<namespace>)
  --grafeas-server URL   storage.grafeas.server (default https://containeranalysis.googleapis.com, ADC)
  --docker-config FILE   registry credentials (default $DOCKER_CONFIG/config.json, ~/.docker/config.json)
  --insecure             plain HTTP / unverified TLS to the registry
  --skip-oci             do not contact registries
Exit codes: 0 shown, 2 usage error or run not found, 1 other failures.
`;

const usage = (message: string): ProvenantError => usageError('inspect', message);

/** The machine-readable report (`-o json|yaml`); field names are stable and documented in docs/cli.md. */
export interface InspectReport {
  readonly run: { readonly kind: RunKind; readonly namespace: string; readonly name: string; readonly uid: string };
  readonly status: {
    readonly state: 'signed' | 'failed' | 'unsigned';
    /** Error code of the last failure (`chains.tekton.dev/reason`). */
    readonly reason?: string;
    readonly retries: number;
    /** `chains.tekton.dev/transparency`: the Rekor entry URL of the provenance. */
    readonly transparency?: string;
  };
  readonly attestations: readonly InspectedAttestation[];
  readonly notes: readonly string[];
}

export type InspectedAttestation = AttestationDescription & {
  readonly source: 'tekton' | 'local' | 'oci' | 'gcs' | 'archivista' | 'docdb' | 'grafeas';
  /** Annotation key, file path, or registry location. */
  readonly location: string;
  readonly shortKey?: string;
  readonly warnings?: readonly string[];
};

function statusOf(annotations: Readonly<Record<string, string>>, kind: RunKind, uid: string, notes: string[]): InspectReport['status'] {
  const signedUid = annotations[signedUidAnnotation];
  const retries = Number.parseInt(annotations[retriesAnnotation] ?? '0', 10);
  const transparency = annotations[transparencyAnnotation];
  const reason = annotations[reasonAnnotation];
  const rule = signingState(annotations, kind, uid);
  const state: InspectReport['status']['state'] = rule === 'copied' ? 'unsigned' : rule;
  if (rule === 'copied') {
    notes.push(`the signing annotations name ${signedUid === undefined ? 'another uid' : `uid ${signedUid}`}, not this run's: they were copied from another run`);
  }
  return {
    state,
    ...(reason === undefined || reason === '' ? {} : { reason }),
    retries: Number.isFinite(retries) ? retries : 0,
    ...(transparency === undefined ? {} : { transparency }),
  };
}

async function ociAttestations(images: ReturnType<typeof imageSubjects>['images'], values: { 'docker-config'?: string | undefined; insecure?: boolean | undefined }, io: CliIo, notes: string[]): Promise<InspectedAttestation[]> {
  if (images.length === 0) return [];
  const logger = createLogger({ level: io.env['PROVENANT_LOG_LEVEL'] ?? 'silent', name: 'provenant', destination: { write: (s: string) => io.stderr(s) } });
  const credentials = await loadDockerCredentials(values['docker-config'], io.env);
  const reader = createOciReader({ config: { repository: undefined, insecure: values.insecure ?? false }, credentials, logger });
  const out: InspectedAttestation[] = [];
  for (const image of images) {
    const ref = `${image.registry}/${image.repository}@${image.digest}`;
    try {
      const found = await reader.readAttestations(ref);
      found.bundles.forEach((b, i) => out.push({ ...describeBundle(b), source: 'oci', location: `${ref} sigstore bundle referrer #${i + 1}` }));
      found.envelopes.forEach((e, i) => out.push({ ...describeBundle(e.bundle ?? bundleFromEnvelope(e.envelope)), source: 'oci', location: `${ref} .att layer #${i + 1}` }));
      found.signatures.forEach((s, i) =>
        out.push({ ...describeBundle(s.bundle ?? bundleFromMessageSignature(s.payload, s.signature), s.payload), source: 'oci', location: `${ref} .sig layer #${i + 1}` }),
      );
      if (found.bundles.length + found.envelopes.length + found.signatures.length === 0) notes.push(`${ref}: no attestations or signatures in the registry`);
    } catch (err) {
      notes.push(`${ref}: registry not readable (${isProvenantError(err) ? err.code : errorMessage(err)}); OCI attestations not shown`);
    }
  }
  return out;
}

export function formatInspectTable(report: InspectReport): string {
  const lines: string[] = [];
  const { run, status } = report;
  lines.push(`${run.kind} ${run.namespace}/${run.name}${run.uid === '' ? '' : ` (uid ${run.uid})`}`);
  lines.push(`  status:       ${status.state}${status.reason === undefined ? '' : ` (${status.reason})`}`);
  if (status.retries > 0) lines.push(`  retries:      ${status.retries}`);
  if (status.transparency !== undefined) lines.push(`  transparency: ${status.transparency}`);
  lines.push('', `Attestations (${report.attestations.length}):`);
  report.attestations.forEach((a, i) => {
    lines.push(`  [${i + 1}] ${a.type}  ${a.source}  ${a.location}`);
    if (a.predicateType !== undefined) lines.push(`      predicate type: ${a.predicateType}`);
    for (const s of a.subjects) lines.push(`      subject: ${s.name} ${Object.entries(s.digest).map(([alg, hex]) => `${alg}:${hex}`).join(' ')}`);
    const p = a.provenance;
    if (p !== undefined) {
      if (p.builderId !== undefined) lines.push(`      builder: ${p.builderId}`);
      if (p.buildType !== undefined) lines.push(`      build type: ${p.buildType}`);
      if (p.startedOn !== undefined || p.finishedOn !== undefined) lines.push(`      build time: ${p.startedOn ?? '?'} .. ${p.finishedOn ?? '?'}`);
      if (p.configSource !== undefined) lines.push(`      config source: ${p.configSource}`);
      if (p.parameters.length > 0) lines.push(`      parameters: ${p.parameters.join(', ')}`);
      for (const m of p.materials) lines.push(`      material: ${m.uri} ${Object.entries(m.digest).map(([alg, hex]) => `${alg}:${hex}`).join(' ')}`);
    }
    const signer = a.signer.type === 'key' ? `key${a.signer.keyId === undefined ? '' : ` ${a.signer.keyId}`}` : `certificate ${a.signer.san ?? '(no SAN)'} (issuer ${a.signer.issuer ?? 'unknown'})`;
    lines.push(`      signer: ${signer}`);
    if (a.tlog !== undefined) lines.push(`      tlog: logIndex ${a.tlog.logIndex}, integrated ${a.tlog.integratedAt}`);
    for (const w of a.warnings ?? []) lines.push(`      WARNING: ${w}`);
  });
  if (report.notes.length > 0) {
    lines.push('', 'Notes:');
    for (const n of report.notes) lines.push(`  - ${n}`);
  }
  return `${lines.join('\n')}\n`;
}

export const inspectCommand: CliCommand = {
  name: 'inspect',
  summary: "show a run's signing status and decode its stored attestations (unverified)",
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('inspect', argv, {
      namespace: { type: 'string', short: 'n' },
      kubeconfig: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'local-dir': { type: 'string' },
      'gcs-bucket': { type: 'string' },
      'archivista-url': { type: 'string' },
      'docdb-url': { type: 'string' },
      'grafeas-project': { type: 'string' },
      'grafeas-note': { type: 'string' },
      'grafeas-server': { type: 'string' },
      'docker-config': { type: 'string' },
      insecure: { type: 'boolean' },
      'skip-oci': { type: 'boolean' },
    });
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    const [kindWord, name, ...rest] = positionals;
    const kinds: Record<string, RunKind> = { taskrun: 'TaskRun', tr: 'TaskRun', pipelinerun: 'PipelineRun', pr: 'PipelineRun' };
    const kind = kinds[kindWord?.toLowerCase() ?? ''];
    if (kind === undefined || name === undefined || rest.length > 0) throw usage('expected: inspect taskrun|pipelinerun NAME');
    const output = values.output ?? 'table';
    if (output !== 'table' && output !== 'json' && output !== 'yaml') throw usage('-o must be table, json or yaml');

    const run = await loadLiveRun({ kind, name, namespace: values.namespace, kubeconfig: values.kubeconfig, env: io.env });
    const notes: string[] = [];
    const status = statusOf(run.annotations, run.kind, run.uid, notes);
    const attestations: InspectedAttestation[] = [];
    for (const a of artifactsFromAnnotations(run.annotations)) {
      const warnings = a.payloadMismatch ? ['the payload annotation differs from the signed payload (changed after signing)'] : [];
      attestations.push({
        ...describeBundle(a.bundle, a.payload),
        source: 'tekton',
        location: a.annotations[0] ?? a.shortKey,
        shortKey: a.shortKey,
        ...(warnings.length > 0 ? { warnings } : {}),
      });
    }
    if (values['local-dir'] !== undefined) {
      const entries = await readLocal(values['local-dir'], { kind, namespace: run.namespace, name: run.name, uid: run.uid });
      for (const e of entries) {
        attestations.push({ ...describeBundle(e.bundle as SerializedBundle, e.payload), source: 'local', location: e.bundlePath, shortKey: e.shortKey });
      }
      if (entries.length === 0) notes.push(`no attestations for this run under ${values['local-dir']}`);
    }
    if (values['gcs-bucket'] !== undefined || values['archivista-url'] !== undefined || values['docdb-url'] !== undefined) {
      const { remoteStoreAttestations } = await import('./inspect-remote.js');
      attestations.push(
        ...(await remoteStoreAttestations({ ...run, kind }, { gcsBucket: values['gcs-bucket'], archivistaUrl: values['archivista-url'], docdbUrl: values['docdb-url'], env: io.env }, notes)),
      );
    }
    if (values['grafeas-project'] !== undefined) {
      const { grafeasAttestations } = await import('./inspect-remote.js');
      const subjects = attestations.filter((a) => a.type === 'provenance').flatMap((a) => a.subjects);
      attestations.push(
        ...(await grafeasAttestations(
          { kind, namespace: run.namespace, raw: run.raw },
          { grafeasProject: values['grafeas-project'], grafeasNote: values['grafeas-note'], grafeasServer: values['grafeas-server'], subjects },
          notes,
        )),
      );
    }
    if (values['skip-oci'] !== true) {
      const subjects = attestations.filter((a) => a.type === 'provenance').flatMap((a) => a.subjects);
      attestations.push(...(await ociAttestations(imageSubjects(subjects).images, values, io, notes)));
    }
    if (attestations.length === 0) notes.push('no attestations found for this run');

    const report: InspectReport = { run: { kind, namespace: run.namespace, name: run.name, uid: run.uid }, status, attestations, notes };
    if (output === 'json') io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    else if (output === 'yaml') io.stdout(toYaml(report));
    else io.stdout(formatInspectTable(report));
    return 0;
  },
};
