// Only what `verify --image REF --key PEM` needs is imported statically (issue 10: within 2x of cosign):
// run sources, the Sigstore verifier, pino and the tlog proof are loaded when a flag asks for them.
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ProvenantError, isProvenantError } from '../../errors.js';
import type { Logger } from '../../observability/index.js';
import { createNoopLogger } from '../../observability/noop-logger.js';
import { createOciReader, parseImageDigestRef, type StoredAttestations } from '../../storage/oci/index.js';
import {
  verifyAttestation,
  type VerificationPolicy,
  type VerifiedArtifact,
  bundleFromEnvelope,
  loadDockerCredentials,
  builderIdOf,
  evaluatePolicy,
  type AttestationPolicy,
  parsePublicKey,
  sha256Of,
} from '../../verify/light.js';
import { provenantVersion, vsaArgs, vsaHelp, vsaRequest } from '../vsa-args.js';
import { parseCommandArgs, usageError } from '../args.js';
import { parsePlatformChoice, platformHelp, resolveImagePlatforms } from '../image-platform.js';
import { readDocument, type CliCommand, type CliIo } from '../io.js';

const help = `usage: provenant verify (--bundle FILE | --taskrun NAME | --pipelinerun NAME | --image REF@DIGEST)...
         (--key PEM_FILE | --certificate-identity SAN --certificate-oidc-issuer URL --trusted-root FILE)
         [--trusted-root FILE] [--require-tlog] [--builder-id ID] [--predicate-type URI]
         [-n NS] [--kubeconfig FILE] [--docker-config FILE] [--insecure] [--platform OS/ARCH[/VARIANT]|all|index]
         [--artifact FILE]

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
  --platform P                     when --image is an image index / manifest list: verify the platform
                                   manifest for P: os/arch[/variant] (default: this host's), every one
                                   ('all'; each must pass), or the index itself ('index')
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
Verification summary (with --image):
${vsaHelp}Exit codes: 0 verified, 1 rejected (reason on stderr), 2 usage or input error.
`;

const usage = (message: string): ProvenantError => usageError('verify', message);

function readText(file: string, what: string): string {
  try {
    // Sync: a key file read once per call, without starting the thread pool for it.
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read ${what} ${file}`, { cause });
  }
}

function readArtifact(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read artifact ${file}`, { cause });
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
export interface Candidate {
  readonly location: string;
  readonly bundle: unknown;
  /** Known before verification: e.g. the payload annotation differs from the signed payload. */
  readonly rejected?: { readonly code: string; readonly message: string };
}

/** How a source's candidates combine: a run's own attestations must all verify; an image needs one. */
export interface Source {
  readonly name: string;
  readonly rule: 'all' | 'any';
  readonly candidates: readonly Candidate[];
  readonly policy: AttestationPolicy;
  /** Said on stderr when the source holds nothing (e.g. images signatures not checked). */
  readonly notes: readonly string[];
}

type Outcome = { readonly ok: true; readonly verified: VerifiedArtifact } | { readonly ok: false; readonly code: string; readonly message: string };

async function check(
  candidate: Candidate,
  trust: VerificationPolicy,
  key: KeyObject | undefined,
  policy: AttestationPolicy,
  artifact: Buffer | undefined,
  strictInput: boolean,
): Promise<Outcome> {
  if (candidate.rejected !== undefined) return { ok: false, ...candidate.rejected };
  let verified: VerifiedArtifact;
  try {
    verified = await verifyAttestation(candidate.bundle, trust, { artifact, key });
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

/** pino only when something is to be logged (PROVENANT_LOG_LEVEL); the default is silent. */
async function cliLogger(io: CliIo): Promise<Logger> {
  const level = io.env['PROVENANT_LOG_LEVEL'] ?? 'silent';
  if (level === 'silent') return createNoopLogger();
  const { createLogger } = await import('../../observability/logger.js');
  return createLogger({ level, name: 'provenant', destination: { write: (s: string) => io.stderr(s) } });
}

/**
 * `--image`: an image index is followed to its platform manifest(s) per `--platform` (tektoncd/chains#1070):
 * what runs is the platform manifest, so that is what must carry a verified attestation naming its digest.
 */
async function imageSources(ref: string, values: Values, io: CliIo, base: AttestationPolicy): Promise<Source[]> {
  const choice = parsePlatformChoice(values.platform);
  if (choice === undefined) throw usage(`--platform must be ${platformHelp}: ${values.platform ?? ''}`);
  const credentials = await loadDockerCredentials(values['docker-config'], io.env);
  const logger = await cliLogger(io);
  const reader = createOciReader({ config: { repository: undefined, insecure: values.insecure ?? false }, credentials, logger });
  // The image's own attestations are read while the manifest is checked for an index: one round trip
  // instead of two when, as usual, it is not an index (then this read is dropped, errors included).
  const own = reader.readAttestations(ref, { attestationsOnly: true }).then(
    (found) => ({ found }),
    (error: unknown) => ({ error }),
  );
  const images = await resolveImagePlatforms(ref, choice, { insecure: values.insecure ?? false, credentials, logger });
  return Promise.all(
    images.map(async (i) => {
      const reused = i.ref === ref && i.via === undefined;
      const found = reused ? await own.then((r) => ('found' in r ? r.found : Promise.reject(r.error))) : await reader.readAttestations(i.ref, { attestationsOnly: true });
      return imageSource(i.ref, found, base, i.via);
    }),
  );
}

function imageSource(ref: string, found: StoredAttestations, base: AttestationPolicy, label?: string): Source {
  const image = parseImageDigestRef(ref);
  // Message-signature bundles are image signatures (simple signing), not attestations.
  const attestations = found.bundles.filter((b) => b.dsseEnvelope !== undefined);
  const signatureCount = found.signatures.length + (found.unreadSignatures ?? 0) + found.bundles.length - attestations.length;
  const candidates: Candidate[] = [
    ...attestations.map((bundle, i) => ({ location: `${ref} sigstore bundle referrer #${i + 1}`, bundle })),
    ...found.envelopes.map((e, i) => ({ location: `${ref} .att layer #${i + 1}`, bundle: e.bundle ?? bundleFromEnvelope(e.envelope) })),
  ];
  const notes = signatureCount > 0 ? [`${ref}: ${signatureCount} image signature(s) present (.sig or bundle), not checked here`] : [];
  return { name: label === undefined ? ref : `${label} (${ref})`, rule: 'any', candidates, policy: { ...base, imageDigest: image.digest }, notes };
}

function tryParseKey(pem: string): KeyObject | undefined {
  try {
    return parsePublicKey(pem);
  } catch {
    return undefined;
  }
}

export interface Values {
  readonly bundle?: string | undefined;
  readonly taskrun?: string | undefined;
  readonly pipelinerun?: string | undefined;
  readonly namespace?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly image?: string | undefined;
  readonly 'docker-config'?: string | undefined;
  readonly insecure?: boolean | undefined;
  readonly platform?: string | undefined;
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
      platform: { type: 'string' },
      key: { type: 'string' },
      'certificate-identity': { type: 'string' },
      'certificate-oidc-issuer': { type: 'string' },
      'trusted-root': { type: 'string' },
      'require-tlog': { type: 'boolean' },
      'builder-id': { type: 'string' },
      'predicate-type': { type: 'string' },
      artifact: { type: 'string' },
      ...vsaArgs,
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
    const vsa = vsaRequest(values, 'verify');
    if (vsa !== undefined && values.image === undefined) throw usage('--vsa-out summarises an image: use it with --image');

    const identity = values['certificate-identity'];
    const issuer = values['certificate-oidc-issuer'];
    const requireTlog = values['require-tlog'] ?? false;
    let trust: VerificationPolicy;
    let keyless = false;
    if (values.key !== undefined) {
      if (identity !== undefined || issuer !== undefined) throw usage('use either --key or --certificate-identity/--certificate-oidc-issuer');
      const key = readText(values.key, 'key');
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
        : readArtifact(values.artifact);

    const sources: Source[] = [];
    if (values.bundle !== undefined) {
      const [bundle] = await loadBundles({ bundle: values.bundle }, io);
      sources.push({ name: values.bundle, rule: 'all', candidates: [{ location: values.bundle, bundle }], policy, notes: [] });
    }
    if (values.taskrun !== undefined || values.pipelinerun !== undefined) {
      const { runSource } = await import('./verify-run.js');
      if (values.taskrun !== undefined) sources.push(await runSource('TaskRun', values.taskrun, values, io, policy, keyless));
      if (values.pipelinerun !== undefined) sources.push(await runSource('PipelineRun', values.pipelinerun, values, io, policy, keyless));
    }
    if (values.platform !== undefined && values.image === undefined) throw usage('--platform goes with --image');
    if (values.image !== undefined) sources.push(...(await imageSources(values.image, values, io, policy)));

    // The key parsed once for every bundle; when it does not parse, each verification reports VERIFY_KEY_INVALID.
    const key = 'key' in trust ? tryParseKey(trust.key) : undefined;
    const failures: string[] = [];
    const verifiedInputs: { uri: string; digest: string }[] = [];
    for (const source of sources) {
      for (const note of source.notes) io.stderr(`provenant verify: note: ${note}\n`);
      if (source.candidates.length === 0) {
        failures.push(`VERIFY_NO_ATTESTATIONS: ${source.name} has no attestations`);
        continue;
      }
      const strict = source.name === values.bundle;
      // --require-tlog proves inclusion (fetching the proof from the log when the bundle has only a SET).
      const candidates =
        requireTlog && trust.trustedRoot !== undefined
          ? await (await import('../../verify/index.js')).withProvenTlogInclusion(source.candidates, trust.trustedRoot)
          : source.candidates;
      const outcomes: { c: Candidate; outcome: Outcome }[] = [];
      for (const c of candidates) outcomes.push({ c, outcome: await check(c, trust, key, source.policy, strict ? artifact : undefined, strict) });
      for (const { c, outcome } of outcomes) {
        if (outcome.ok && source.name === values.image) verifiedInputs.push({ uri: c.location, digest: sha256Of(outcome.verified.payload) });
        if (outcome.ok) io.stdout(formatVerified(outcome.verified, c.location));
        else io.stderr(`provenant verify: rejected ${c.location}: ${outcome.code}: ${outcome.message}\n`);
      }
      const passed = outcomes.filter((o) => o.outcome.ok).length;
      if (source.rule === 'all' && passed < outcomes.length) failures.push(`VERIFY_REJECTED: ${outcomes.length - passed} of ${outcomes.length} attestation(s) of ${source.name} rejected`);
      if (source.rule === 'any' && passed === 0) failures.push(`VERIFY_REJECTED: none of the ${outcomes.length} attestation(s) of ${source.name} passed`);
    }
    if (vsa !== undefined && values.image !== undefined) {
      const image = parseImageDigestRef(values.image);
      const canonical = JSON.stringify({ trust: 'key' in trust ? { key: trust.key } : { identity: String(trust.identity.san), issuer: trust.identity.issuer }, policy });
      await (await import('../vsa.js')).writeVsa(io, vsa, {
        resource: { name: `${image.registry}/${image.repository}`, digest: image.digest },
        passed: failures.length === 0,
        inputAttestations: verifiedInputs,
        policy: { uri: 'provenant:verify-flags', digest: sha256Of(canonical) },
        verifiedLevels: failures.length === 0 ? ['SLSA_BUILD_LEVEL_2'] : [],
        timeVerified: new Date(),
        verifierVersion: provenantVersion,
      });
    }
    if (failures.length > 0) {
      for (const f of failures) io.stderr(`provenant verify: ${f}\n`);
      return 1;
    }
    return 0;
  },
};
