import { readFile } from 'node:fs/promises';
import type { SerializedBundle } from '@sigstore/bundle';
import { ProvenantError, errorMessage, isProvenantError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import { createOciReader, parseImageDigestRef } from '../../storage/index.js';
import { runShortKey, transparencyAnnotation, type RunKind } from '../../tekton/index.js';
import {
  verifyBundle,
  type VerificationPolicy,
  type VerifiedArtifact,
  artifactsFromAnnotations,
  bundleFromEnvelope,
  fetchRekorEntry,
  loadDockerCredentials,
  loadLiveRun,
  builderIdOf,
  evaluatePolicy,
  type AttestationPolicy,
  withProvenTlogInclusion,
} from '../../verify/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import { readDocument, type CliCommand, type CliIo } from '../io.js';

const help = `usage: provenant verify (--bundle FILE | --taskrun NAME | --pipelinerun NAME | --image REF@DIGEST)...
         (--key PEM_FILE | --certificate-identity SAN --certificate-oidc-issuer URL --trusted-root FILE)
         [--trusted-root FILE] [--require-tlog] [--builder-id ID] [--predicate-type URI]
         [-n NS] [--kubeconfig FILE] [--docker-config FILE] [--insecure] [--artifact FILE]

Verifies stored attestations and prints what was verified: subjects, predicate type, builder, signer
identity, transparency log index.
Sources (at least one; several may be combined, each must pass):
  --bundle FILE                    Sigstore bundle JSON ('-' = stdin)
  --taskrun NAME | --pipelinerun NAME
                                   the live run's tekton annotations (chains.tekton.dev/payload-*, signature-*,
                                   cert-*); every provenance attestation of the run must verify
  -n, --namespace NS               namespace of the run (default: the kubeconfig context's, else "default")
  --kubeconfig FILE                default: $KUBECONFIG, ~/.kube/config, in-cluster
  --image REF@DIGEST               the image's attestations in the registry: Sigstore bundle referrers and
                                   cosign .att envelopes; at least one must verify and name the digest
  --docker-config FILE             registry credentials (default $DOCKER_CONFIG/config.json, ~/.docker/config.json)
  --insecure                       plain HTTP / unverified TLS to the registry
Trust:
  --key PEM_FILE                   public key the attestations must be signed with
  --certificate-identity SAN       keyless: expected certificate SAN (e.g. https://kubernetes.io/namespaces/NS/serviceaccounts/SA)
  --certificate-oidc-issuer URL    keyless: expected OIDC issuer
  --trusted-root FILE              trusted_root.json (Fulcio CA, Rekor and CT keys); needed for keyless and --require-tlog
Policy:
  --require-tlog                   a transparency log entry must be present and verify against the trusted root
  --builder-id ID                  expected predicate.builder.id (SLSA v0.2) / predicate.runDetails.builder.id (v1)
  --predicate-type URI             required predicate type
  --artifact FILE                  the signed bytes, for message-signature bundles (--bundle only)
Exit codes: 0 verified, 1 rejected (reason on stderr), 2 usage or input error.
`;

const usage = (message: string): ProvenantError => usageError('verify', message);

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read ${what} ${file}`, { cause });
  }
}

export interface BundleSourceOptions {
  readonly bundle?: string | undefined;
}

/** The `--bundle FILE` source (kept for callers of the first version of this command). */
export async function loadBundles(options: BundleSourceOptions, io: CliIo): Promise<unknown[]> {
  if (options.bundle !== undefined) return [await readDocument(options.bundle, io)];
  throw usage('--bundle is required');
}

export function formatVerified(v: VerifiedArtifact, location?: string): string {
  const lines = [location === undefined ? 'Verified OK' : `Verified OK: ${location}`];
  if ('publicKey' in v.signer) lines.push('  signer: public key');
  else lines.push(`  signer: ${v.signer.san}`, `  issuer: ${v.signer.issuer ?? '(none)'}`);
  if (v.payloadType !== undefined) lines.push(`  payload type: ${v.payloadType}`);
  if (v.predicateType !== undefined) lines.push(`  predicate type: ${v.predicateType}`);
  const builder = builderIdOf(v.statement);
  if (builder !== undefined) lines.push(`  builder: ${builder}`);
  for (const s of v.subjects) {
    const digests = Object.entries(s.digest).map(([alg, hex]) => `${alg}:${hex}`);
    lines.push(`  subject: ${s.name} ${digests.join(' ')}`);
  }
  if (v.tlog !== undefined) lines.push(`  tlog: logIndex ${v.tlog.logIndex}, integrated ${new Date(Number(v.tlog.integratedTime) * 1000).toISOString()}`);
  return `${lines.join('\n')}\n`;
}

/** One attestation found in a source, to verify. */
interface Candidate {
  readonly location: string;
  readonly bundle: unknown;
  /** Known before verification: e.g. the payload annotation differs from the signed payload. */
  readonly rejected?: { readonly code: string; readonly message: string };
}

/** How a source's candidates combine: a run's own attestations must all verify; an image needs one. */
interface Source {
  readonly name: string;
  readonly rule: 'all' | 'any';
  readonly candidates: readonly Candidate[];
  readonly policy: AttestationPolicy;
  /** Said on stderr when the source holds nothing (e.g. images signatures not checked). */
  readonly notes: readonly string[];
}

type Outcome = { readonly ok: true; readonly verified: VerifiedArtifact } | { readonly ok: false; readonly code: string; readonly message: string };

function check(candidate: Candidate, trust: VerificationPolicy, policy: AttestationPolicy, artifact: Buffer | undefined, strictInput: boolean): Outcome {
  if (candidate.rejected !== undefined) return { ok: false, ...candidate.rejected };
  let verified: VerifiedArtifact;
  try {
    verified = verifyBundle(candidate.bundle, trust, artifact === undefined ? {} : { artifact });
  } catch (err) {
    // A file the user handed in that is not a bundle is a usage problem; garbage found in storage is a rejection.
    if (!isProvenantError(err) || (strictInput && err.kind === 'input') || err.code === 'VERIFY_TRUSTED_ROOT_REQUIRED' || err.code === 'VERIFY_KEY_INVALID' || err.code === 'VERIFY_TRUSTED_ROOT_INVALID') {
      throw err;
    }
    return { ok: false, code: err.code, message: err.message };
  }
  const result = evaluatePolicy(verified, policy);
  if (!result.ok) return { ok: false, code: result.reasons[0]?.code ?? 'POLICY_REJECTED', message: result.reasons.map((r) => `${r.code}: ${r.message}`).join('; ') };
  return { ok: true, verified };
}

async function runSource(kind: RunKind, name: string, values: Values, io: CliIo, base: AttestationPolicy, keyless: boolean): Promise<Source> {
  const run = await loadLiveRun({ kind, name, namespace: values.namespace, kubeconfig: values.kubeconfig, env: io.env });
  const ownKey = runShortKey(kind, run.uid);
  const candidates: Candidate[] = [];
  const notes: string[] = [];
  for (const a of artifactsFromAnnotations(run.annotations)) {
    const location = `${kind.toLowerCase()}/${run.namespace}/${run.name} annotation ${a.annotations[0] ?? a.shortKey}`;
    if (a.type === 'image-signature') {
      notes.push(`${location}: image signature, not checked here (verify the image with cosign verify)`);
      continue;
    }
    if (a.shortKey !== ownKey) {
      candidates.push({ location, bundle: a.bundle, rejected: { code: 'VERIFY_RUN_MISMATCH', message: `attestation ${a.shortKey} belongs to another run (uid ${run.uid} expected): annotations copied?` } });
      continue;
    }
    if (a.payloadMismatch) {
      candidates.push({ location, bundle: a.bundle, rejected: { code: 'VERIFY_PAYLOAD_MISMATCH', message: 'the payload annotation differs from the signed payload' } });
      continue;
    }
    let bundle: SerializedBundle = a.bundle;
    const logUrl = run.annotations[transparencyAnnotation];
    // Annotations carry no log entry; a keyless certificate is only valid with one, so fetch it from Rekor.
    if (logUrl !== undefined && (keyless || base.requireTlog === true)) {
      try {
        const entry = await fetchRekorEntry(logUrl);
        bundle = { ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [entry] } };
      } catch (err) {
        notes.push(`${location}: transparency log entry not available: ${isProvenantError(err) ? err.code : errorMessage(err)}`);
      }
    }
    candidates.push({ location, bundle });
  }
  return { name: `${kind} ${run.namespace}/${run.name}`, rule: 'all', candidates, policy: base, notes };
}

async function imageSource(ref: string, values: Values, io: CliIo, base: AttestationPolicy): Promise<Source> {
  const image = parseImageDigestRef(ref);
  const credentials = await loadDockerCredentials(values['docker-config'], io.env);
  const logger = createLogger({ level: io.env['PROVENANT_LOG_LEVEL'] ?? 'silent', name: 'provenant', destination: { write: (s: string) => io.stderr(s) } });
  const reader = createOciReader({ config: { repository: undefined, insecure: values.insecure ?? false }, credentials, logger });
  const found = await reader.readAttestations(ref);
  // Message-signature bundles are image signatures (simple signing), not attestations.
  const attestations = found.bundles.filter((b) => b.dsseEnvelope !== undefined);
  const signatureCount = found.signatures.length + found.bundles.length - attestations.length;
  const candidates: Candidate[] = [
    ...attestations.map((bundle, i) => ({ location: `${ref} sigstore bundle referrer #${i + 1}`, bundle })),
    ...found.envelopes.map((e, i) => ({ location: `${ref} .att layer #${i + 1}`, bundle: e.bundle ?? bundleFromEnvelope(e.envelope) })),
  ];
  const notes = signatureCount > 0 ? [`${ref}: ${signatureCount} image signature(s) present (.sig or bundle), not checked here`] : [];
  return { name: ref, rule: 'any', candidates, policy: { ...base, imageDigest: image.digest }, notes };
}

interface Values {
  readonly bundle?: string | undefined;
  readonly taskrun?: string | undefined;
  readonly pipelinerun?: string | undefined;
  readonly namespace?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly image?: string | undefined;
  readonly 'docker-config'?: string | undefined;
  readonly insecure?: boolean | undefined;
}

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 'verify attestations (bundle file, run annotations, image in a registry) against a key or keyless identity and a policy',
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('verify', argv, {
      bundle: { type: 'string' },
      taskrun: { type: 'string' },
      pipelinerun: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      kubeconfig: { type: 'string' },
      image: { type: 'string' },
      'docker-config': { type: 'string' },
      insecure: { type: 'boolean' },
      key: { type: 'string' },
      'certificate-identity': { type: 'string' },
      'certificate-oidc-issuer': { type: 'string' },
      'trusted-root': { type: 'string' },
      'require-tlog': { type: 'boolean' },
      'builder-id': { type: 'string' },
      'predicate-type': { type: 'string' },
      artifact: { type: 'string' },
    });
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    if (positionals.length > 0) throw usage(`unexpected argument ${positionals[0] ?? ''}`);
    if (values.taskrun !== undefined && values.pipelinerun !== undefined) throw usage('use either --taskrun or --pipelinerun');
    if (values.bundle === undefined && values.taskrun === undefined && values.pipelinerun === undefined && values.image === undefined) {
      throw usage('a source is required: --bundle, --taskrun, --pipelinerun or --image');
    }
    if (values.artifact !== undefined && values.bundle === undefined) throw usage('--artifact goes with --bundle');

    const identity = values['certificate-identity'];
    const issuer = values['certificate-oidc-issuer'];
    const requireTlog = values['require-tlog'] ?? false;
    let trust: VerificationPolicy;
    let keyless = false;
    if (values.key !== undefined) {
      if (identity !== undefined || issuer !== undefined) throw usage('use either --key or --certificate-identity/--certificate-oidc-issuer');
      const key = await readText(values.key, 'key');
      const trustedRoot = values['trusted-root'] === undefined ? undefined : await readDocument(values['trusted-root'], io);
      trust = { key, requireTlog, ...(trustedRoot === undefined ? {} : { trustedRoot }) };
    } else {
      if (identity === undefined || issuer === undefined) throw usage('--key, or --certificate-identity with --certificate-oidc-issuer, is required');
      if (values['trusted-root'] === undefined) throw usage('keyless verification needs --trusted-root');
      trust = { identity: { san: identity, issuer }, trustedRoot: await readDocument(values['trusted-root'], io), requireTlog };
      keyless = true;
    }
    const policy: AttestationPolicy = {
      builderId: values['builder-id'],
      predicateType: values['predicate-type'],
      requireTlog,
    };
    const artifact =
      values.artifact === undefined
        ? undefined
        : await readFile(values.artifact).catch((cause: unknown) => {
            throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read artifact ${values.artifact ?? ''}`, { cause });
          });

    const sources: Source[] = [];
    if (values.bundle !== undefined) {
      const [bundle] = await loadBundles({ bundle: values.bundle }, io);
      sources.push({ name: values.bundle, rule: 'all', candidates: [{ location: values.bundle, bundle }], policy, notes: [] });
    }
    if (values.taskrun !== undefined) sources.push(await runSource('TaskRun', values.taskrun, values, io, policy, keyless));
    if (values.pipelinerun !== undefined) sources.push(await runSource('PipelineRun', values.pipelinerun, values, io, policy, keyless));
    if (values.image !== undefined) sources.push(await imageSource(values.image, values, io, policy));

    const failures: string[] = [];
    for (const source of sources) {
      for (const note of source.notes) io.stderr(`provenant verify: note: ${note}\n`);
      if (source.candidates.length === 0) {
        failures.push(`VERIFY_NO_ATTESTATIONS: ${source.name} has no attestations`);
        continue;
      }
      const strict = source.name === values.bundle;
      // --require-tlog proves inclusion (fetching the proof from the log when the bundle has only a SET).
      const candidates = requireTlog && trust.trustedRoot !== undefined ? await withProvenTlogInclusion(source.candidates, trust.trustedRoot) : source.candidates;
      const outcomes = candidates.map((c) => ({ c, outcome: check(c, trust, source.policy, strict ? artifact : undefined, strict) }));
      for (const { c, outcome } of outcomes) {
        if (outcome.ok) io.stdout(formatVerified(outcome.verified, c.location));
        else io.stderr(`provenant verify: rejected ${c.location}: ${outcome.code}: ${outcome.message}\n`);
      }
      const passed = outcomes.filter((o) => o.outcome.ok).length;
      if (source.rule === 'all' && passed < outcomes.length) failures.push(`VERIFY_REJECTED: ${outcomes.length - passed} of ${outcomes.length} attestation(s) of ${source.name} rejected`);
      if (source.rule === 'any' && passed === 0) failures.push(`VERIFY_REJECTED: none of the ${outcomes.length} attestation(s) of ${source.name} passed`);
    }
    if (failures.length > 0) {
      for (const f of failures) io.stderr(`provenant verify: ${f}\n`);
      return 1;
    }
    return 0;
  },
};
