/**
 * `trace`: walk an image's supply chain link by link. Verify the image's attestations, then follow the
 * materials (SLSA v0.2) / resolved dependencies (SLSA v1) of its verified provenance: images are traced
 * recursively (breadth first, so a node's depth is its shortest distance from the root), git commits and
 * other artifacts are leaves. Only verified statements are followed: an unverified claim about materials
 * is not evidence.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { SerializedBundle as SerializedBundleT } from '@sigstore/bundle';
import { ProvenantError, errorMessage, isProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import {
  createRegistryClient,
  parseImageDigestRef,
  parseRepository,
  type DockerCredentials,
  type ImageDigestRef,
  type OciReader,
  type RegistryClient,
  type StoredAttestations,
  type FetchedManifest,
} from '../storage/oci/index.js';
import { classifyAttestation, dsseBundles, type AttestationOutcome } from './trace-classify.js';
import { flagsPolicy, ruleFor, type TraceRule, type TrustPolicy } from './trace-policy.js';
import { builderIdOf } from './policy.js';
import {
  classifySignatures,
  keyOnlyMessageBundle,
  payloadForBundle,
  type EvidenceSource,
  type SignatureCandidate,
  type SignatureVerdict,
} from './trace-signature.js';
import type { VerificationPolicy, VerifiedArtifact } from './verify-bundle.js';
import { TRACE_LINK_LIMIT, mayFollow, type TraceLinkLimits } from './trace-limits.js';

export type { EvidenceSource, SignatureVerdict } from './trace-signature.js';

export type TraceVerdict =
  | 'verified'
  | 'unsigned'
  | 'invalid-signature'
  | 'identity-mismatch'
  | 'policy-violation'
  | 'not-found'
  | 'unreachable'
  | 'signed-commit'
  | 'unsigned-commit'
  | 'commit-not-found';
export type TraceNodeKind = 'image' | 'git' | 'artifact' | 'workload';
export type TraceRelation = 'material' | 'resolvedDependency' | 'subject' | 'base-image' | 'platform' | 'container';

export interface TraceSignature {
  readonly verdict: SignatureVerdict;
  readonly reason?: string;
  readonly signer?: string;
  readonly source?: EvidenceSource;
  /** Image signatures found (verified or not). */
  readonly count: number;
}

export interface TraceNode {
  /** Stable id: `image:<repo>@sha256:…`, `git:<uri>@<sha1>`, `artifact:<uri>@<alg>:<hex>`, `workload:<kind>/<ns>/<name>`. */
  readonly id: string;
  readonly kind: TraceNodeKind;
  /** `registry/repo@sha256:…` for images; the URI (with `@digest`) otherwise. */
  readonly ref: string;
  /** Shortest distance from the root (root = 0). */
  readonly depth: number;
  /** Images: the provenance verdict. Git commits: the commit-signature verdict when a clone was given. */
  verdict?: TraceVerdict;
  /** Error code behind a failing verdict (`VERIFY_SIGNATURE_INVALID`, `OCI_UNAUTHORIZED`, …). */
  reason?: string;
  builder?: string;
  buildType?: string;
  predicateType?: string;
  /** `key sha256:<fingerprint>` or `<SAN> (<issuer>)`. */
  signer?: string;
  /** DSSE attestations found for the image (verified or not). */
  attestations?: number;
  /** Where the evidence behind `verdict` came from. */
  source?: EvidenceSource;
  /** Images: the image-signature verdict (cosign `.sig` or message-signature bundle), apart from provenance. */
  signature?: TraceSignature;
  /** `sha256:<hex>` of each verified attestation's DSSE payload (a VSA's input attestations). */
  inputs?: string[];
  /** The trust-policy rule applied to the link. */
  rule?: string;
  /** Image indexes: the node is an index whose platform manifests are linked with `platform`. */
  index?: boolean;
  /** Platform (`os/arch[/variant]`) of a manifest reached through an index. */
  platform?: string;
  /** The image has materials that were not followed because of `maxDepth`. */
  truncated?: boolean;
}

export interface TraceEdge {
  readonly from: string;
  readonly to: string;
  readonly relation: TraceRelation;
  /** `container` edges: the container name. */
  readonly label?: string;
}

export interface TraceGraph {
  readonly root: string;
  readonly maxDepth: number;
  readonly nodes: TraceNode[];
  readonly edges: TraceEdge[];
}

export interface TraceProgress {
  readonly ref: string;
  readonly depth: number;
  readonly done: number;
  readonly queued: number;
}

/** Where attestations and signatures for an image are read (registry, Rekor, a local directory). */
export interface EvidenceProvider {
  readonly source: EvidenceSource;
  read(ref: string, image: ImageDigestRef): Promise<StoredAttestations>;
  /** Entries found for the digest but dropped because they failed verification (Rekor: SET, proof). */
  rejected?(digest: string): number;
  /** Releases a client (a database connection) once the caller is done with the trace. */
  close?(): Promise<void>;
}

/**
 * Image manifests: the JSON, `undefined` when the manifest does not exist, `null` when this source
 * cannot tell (offline without a copy of the manifest).
 */
export interface ManifestSource {
  get(image: ImageDigestRef): Promise<Record<string, unknown> | undefined | null>;
  /** The manifest's exact bytes (what its digest is computed over), for `export`. */
  raw?(image: ImageDigestRef): Promise<Uint8Array | undefined>;
}

/** The verdict on one git commit, from a local clone (see trace-source.ts). */
export interface CommitCheck {
  readonly verdict: 'signed-commit' | 'unsigned-commit' | 'commit-not-found' | 'invalid-signature' | 'identity-mismatch';
  readonly reason?: string;
  readonly signer?: string;
}

export interface TraceOptions {
  /** The registry's attestations (`createOciReader`). */
  readonly reader?: OciReader;
  /** Whether an image manifest exists (see `createManifestProbe`); `manifests` supersedes it. */
  readonly manifestExists?: (image: ImageDigestRef) => Promise<boolean>;
  /** Image manifests, for base-image annotations and image indexes (see `createManifestReader`). */
  readonly manifests?: ManifestSource;
  /** More evidence: a local directory, Rekor. */
  readonly evidence?: readonly EvidenceProvider[];
  /** A bundle is verified when any policy accepts it (several `--key`s, or a keyless identity): the default rule. */
  readonly policies?: readonly VerificationPolicy[];
  /** Per-link rules (`--policy FILE`); `policies` are its default rule when it has none. */
  readonly trust?: TrustPolicy;
  /** `os/arch[/variant]` of index manifests to follow, or `all` (default: this host's). */
  readonly platform?: string;
  /** Checks a git commit (`git+<url>@<sha1>`) under the rule for its URL; undefined = not checked. */
  readonly checkCommit?: (url: string, sha1: string, rule: TraceRule | undefined) => Promise<CommitCheck | undefined>;
  readonly maxDepth?: number;
  /** Fan-out and graph-size limits (default `limits.trace`, docs/limits.md). */
  readonly linkLimits?: TraceLinkLimits;
  readonly onProgress?: (p: TraceProgress) => void;
  readonly logger: Logger;
}

export const defaultTraceMaxDepth = 4;

/** Probes manifests with provenant's registry client (one client per registry host). */
export function createManifestProbe(deps: {
  readonly insecure: boolean;
  readonly credentials?: DockerCredentials | undefined;
  readonly logger: Logger;
  readonly fetch?: typeof fetch | undefined;
}): (image: ImageDigestRef) => Promise<boolean> {
  const clients = new Map<string, RegistryClient>();
  return async (image) => {
    let client = clients.get(image.registry);
    if (client === undefined) {
      client = createRegistryClient({ registry: image.registry, insecure: deps.insecure, credentials: deps.credentials, logger: deps.logger, fetch: deps.fetch, actions: 'pull' });
      clients.set(image.registry, client);
    }
    return (await client.headManifest(image.repository, image.digest)) !== undefined;
  };
}

/** Reads manifests with provenant's registry client (one client per registry host). */
export function createManifestReader(deps: {
  readonly insecure: boolean;
  readonly credentials?: DockerCredentials | undefined;
  readonly logger: Logger;
  readonly fetch?: typeof fetch | undefined;
}): ManifestSource {
  const clients = new Map<string, RegistryClient>();
  const fetchManifest = async (image: ImageDigestRef): Promise<FetchedManifest | undefined> => {
    let client = clients.get(image.registry);
    if (client === undefined) {
      client = createRegistryClient({ registry: image.registry, insecure: deps.insecure, credentials: deps.credentials, logger: deps.logger, fetch: deps.fetch, actions: 'pull' });
      clients.set(image.registry, client);
    }
    return client.getManifest(image.repository, image.digest);
  };
  return {
    get: async (image) => (await fetchManifest(image))?.json,
    raw: async (image) => (await fetchManifest(image))?.bytes,
  };
}

/** The registry as an evidence provider. */
export function registryEvidence(reader: OciReader): EvidenceProvider {
  return { source: 'registry', read: (ref) => reader.readAttestations(ref) };
}

const archNames: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** `linux/<arch>` of the machine running the trace (image platforms name Linux). */
export function hostPlatform(arch: string = process.arch): string {
  return `linux/${archNames[arch] ?? arch}`;
}

interface Material {
  readonly uri: string;
  readonly digest: Readonly<Record<string, string>>;
  readonly relation: TraceRelation;
}

const SHA256_HEX = /^[a-f0-9]{64}$/;

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function digestMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [alg, hex] of Object.entries(obj(v) ?? {})) if (typeof hex === 'string') out[alg] = hex.toLowerCase();
  return out;
}

/** Materials (v0.2) and resolved dependencies (v1) of a statement. */
export function statementMaterials(statement: Record<string, unknown>): Material[] {
  const predicate = obj(statement['predicate']) ?? {};
  const out: Material[] = [];
  const collect = (list: unknown, relation: TraceRelation): void => {
    if (!Array.isArray(list)) return;
    for (const m of list) {
      const uri = str(obj(m)?.['uri']);
      if (uri !== undefined) out.push({ uri, digest: digestMap(obj(m)?.['digest']), relation });
    }
  };
  collect(predicate['materials'], 'material');
  collect(obj(predicate['buildDefinition'])?.['resolvedDependencies'], 'resolvedDependency');
  return out;
}

interface Target {
  readonly id: string;
  readonly kind: TraceNodeKind;
  readonly ref: string;
  readonly image?: ImageDigestRef;
}

function imageTarget(image: ImageDigestRef): Target {
  const ref = `${image.registry}/${image.repository}@${image.digest}`;
  return { id: `image:${ref}`, kind: 'image', ref, image };
}

/** What a material names: an image (`oci://repo` + sha256, or `repo@sha256:…`), a git commit, or another artifact. */
export function materialTarget(uri: string, digest: Readonly<Record<string, string>>): Target | undefined {
  const sha256 = digest['sha256'];
  if (uri.startsWith('oci://')) {
    const name = uri.slice('oci://'.length);
    const at = name.indexOf('@');
    const pinned = at >= 0 ? name.slice(at + 1) : undefined;
    const hex = sha256 ?? (pinned?.startsWith('sha256:') ? pinned.slice(7) : undefined);
    const repo = parseRepository(at >= 0 ? name.slice(0, at) : name);
    if (repo !== undefined && hex !== undefined && SHA256_HEX.test(hex)) return imageTarget({ ...repo, digest: `sha256:${hex}` });
  } else if (/@sha256:[a-f0-9]{64}$/.test(uri) && !uri.includes('://')) {
    const image = safeParse(uri);
    if (image !== undefined) return imageTarget(image);
  } else if (uri.startsWith('git+')) {
    const sha1 = digest['sha1'] ?? digest['gitCommit'];
    const ref = sha1 === undefined ? uri : `${uri}@${sha1}`;
    return { id: `git:${ref}`, kind: 'git', ref };
  }
  const first = Object.entries(digest).sort(([a], [b]) => a.localeCompare(b))[0];
  if (first === undefined) return undefined; // an unpinned input cannot be traced
  const ref = `${uri}@${first[0]}:${first[1]}`;
  return { id: `artifact:${ref}`, kind: 'artifact', ref };
}

function safeParse(ref: string): ImageDigestRef | undefined {
  try {
    return parseImageDigestRef(ref);
  } catch {
    return undefined;
  }
}

function signerOf(v: VerifiedArtifact['signer']): string {
  if ('publicKey' in v) {
    const der = createPublicKey(v.publicKey).export({ format: 'der', type: 'spki' });
    return `key sha256:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
  }
  return v.issuer === undefined ? v.san : `${v.san} (${v.issuer})`;
}

function describe(node: TraceNode, v: VerifiedArtifact): void {
  const predicate = obj(v.statement?.['predicate']) ?? {};
  node.predicateType = v.predicateType ?? '';
  const builder = builderIdOf(v.statement);
  const buildType = str(predicate['buildType']) ?? str(obj(predicate['buildDefinition'])?.['buildType']);
  if (builder !== undefined) node.builder = builder;
  if (buildType !== undefined) node.buildType = buildType;
  node.signer = signerOf(v.signer);
}

/** Worst failing outcome first: a tampered attestation outweighs a foreign one. */
function verdictOf(outcomes: readonly AttestationOutcome[]): { verdict: TraceVerdict; reason?: string } {
  const invalid = outcomes.find((o) => o.status === 'invalid-signature' || o.status === 'subject-mismatch');
  if (invalid !== undefined && invalid.status !== 'verified') return { verdict: 'invalid-signature', reason: invalid.code };
  const foreign = outcomes.find((o) => o.status === 'identity-mismatch');
  if (foreign !== undefined && foreign.status !== 'verified') return { verdict: 'identity-mismatch', reason: foreign.code };
  return { verdict: 'unsigned' };
}

/** Why a verified statement does not satisfy the rule's predicate types and builder ids (undefined: it does). */
function ruleViolation(v: VerifiedArtifact, rule: TraceRule | undefined): string | undefined {
  if (rule?.predicateTypes !== undefined && !rule.predicateTypes.includes(v.predicateType ?? '')) return 'POLICY_PREDICATE_TYPE_MISMATCH';
  if (rule?.builderIds !== undefined && !rule.builderIds.includes(builderIdOf(v.statement) ?? '')) return 'POLICY_BUILDER_MISMATCH';
  return undefined;
}

const BASE_NAME = 'org.opencontainers.image.base.name';
const BASE_DIGEST = 'org.opencontainers.image.base.digest';
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

/** The base image an image manifest names through the OCI annotations, when both are present. */
export function baseImageOf(manifest: Record<string, unknown>): ImageDigestRef | undefined {
  const annotations = obj(manifest['annotations']) ?? {};
  const name = str(annotations[BASE_NAME]);
  const digest = str(annotations[BASE_DIGEST]);
  if (name === undefined || digest === undefined || !/^sha256:[a-f0-9]{64}$/.test(digest)) return undefined;
  const repo = parseRepository(name);
  return repo === undefined ? undefined : { ...repo, digest };
}

function isIndex(manifest: Record<string, unknown>): boolean {
  return INDEX_TYPES.has(str(manifest['mediaType']) ?? '') || (manifest['mediaType'] === undefined && Array.isArray(manifest['manifests']) && manifest['layers'] === undefined);
}

/** The manifests of an index that match `platform` (`os/arch[/variant]` or `all`); attestation manifests are skipped. */
export function platformManifests(index: Record<string, unknown>, platform: string): { digest: string; platform: string }[] {
  const out: { digest: string; platform: string }[] = [];
  for (const m of Array.isArray(index['manifests']) ? (index['manifests'] as unknown[]) : []) {
    const d = obj(m);
    const digest = str(d?.['digest']);
    const p = obj(d?.['platform']);
    if (digest === undefined || p === undefined) continue;
    if (obj(d?.['annotations'])?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const name = [str(p['os']) ?? 'unknown', str(p['architecture']) ?? 'unknown', str(p['variant'])].filter((x) => x !== undefined).join('/');
    if (name.startsWith('unknown/')) continue;
    if (platform === 'all' || name === platform || (platform.split('/').length === 2 && name.startsWith(`${platform}/`))) out.push({ digest, platform: name });
  }
  return out;
}

interface Queued {
  readonly target: Target;
  readonly depth: number;
}

interface Walk {
  readonly nodes: Map<string, TraceNode>;
  readonly edges: TraceEdge[];
  readonly queue: Queued[];
  visit(target: Target, depth: number): TraceNode;
  link(from: string, to: string, relation: TraceRelation, label?: string): void;
}

function newWalk(followGit: boolean): Walk {
  const nodes = new Map<string, TraceNode>();
  const edges: TraceEdge[] = [];
  const edgeKeys = new Set<string>();
  const queue: Queued[] = [];
  return {
    nodes,
    edges,
    queue,
    visit(target, depth) {
      const seen = nodes.get(target.id);
      if (seen !== undefined) return seen; // seen: linked, never walked twice (cycles end here)
      const node: TraceNode = { id: target.id, kind: target.kind, ref: target.ref, depth };
      nodes.set(target.id, node);
      if (target.image !== undefined || (followGit && target.kind === 'git')) queue.push({ target, depth });
      return node;
    },
    link(from, to, relation, label) {
      const key = `${from}\n${to}\n${relation}\n${label ?? ''}`;
      if (from === to || edgeKeys.has(key)) return;
      edgeKeys.add(key);
      edges.push({ from, to, relation, ...(label === undefined ? {} : { label }) });
    },
  };
}

function checkOptions(options: TraceOptions): { maxDepth: number; trust: TrustPolicy } {
  const maxDepth = options.maxDepth ?? defaultTraceMaxDepth;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) throw new ProvenantError('input', 'TRACE_DEPTH_INVALID', `max depth must be a whole number ≥ 0, got ${maxDepth}`);
  const trust = options.trust ?? flagsPolicy(options.policies ?? []);
  if (trust.rules.length === 0 && (trust.defaultRule?.identities.length ?? 0) === 0 && (trust.defaultRule?.sshKeys.length ?? 0) === 0) {
    throw new ProvenantError('input', 'TRACE_POLICY_REQUIRED', 'tracing needs a key, a keyless identity or a policy file to verify with');
  }
  return { maxDepth, trust };
}

/**
 * Traces `ref` (`registry/repo@sha256:…`). Throws `input` `OCI_REFERENCE_INVALID` for a bad root
 * reference and any registry error met on the root; errors on deeper links become `unreachable` nodes.
 */
export async function traceImage(ref: string, options: TraceOptions): Promise<TraceGraph> {
  const { maxDepth, trust } = checkOptions(options);
  const root = imageTarget(parseImageDigestRef(ref));
  const walk = newWalk(options.checkCommit !== undefined);
  walk.visit(root, 0);
  await drain(walk, root.id, maxDepth, trust, options);
  return { root: root.id, maxDepth, nodes: [...walk.nodes.values()], edges: walk.edges };
}

export interface WorkloadRoot {
  /** `pod/NAME`, `deployment/NAME`, `namespace/NAME`, with its namespace: `pod/ns/name`. */
  readonly ref: string;
  readonly containers: readonly { readonly name: string; readonly image: string }[];
}

/** Traces every container image of a workload as one graph rooted at the workload. */
export async function traceWorkload(workload: WorkloadRoot, options: TraceOptions): Promise<TraceGraph> {
  const { maxDepth, trust } = checkOptions(options);
  const walk = newWalk(options.checkCommit !== undefined);
  const id = `workload:${workload.ref}`;
  walk.nodes.set(id, { id, kind: 'workload', ref: workload.ref, depth: 0 });
  for (const c of workload.containers) {
    const image = safeParse(c.image);
    if (image === undefined) continue;
    const target = imageTarget(image);
    walk.visit(target, 1);
    walk.link(id, target.id, 'container', c.name);
  }
  await drain(walk, id, maxDepth + 1, trust, options);
  return { root: id, maxDepth, nodes: [...walk.nodes.values()], edges: walk.edges };
}

async function drain(walk: Walk, rootId: string, maxDepth: number, trust: TrustPolicy, options: TraceOptions): Promise<void> {
  const log = options.logger.child({ trace: rootId });
  const platform = options.platform ?? hostPlatform();
  let done = 0;
  while (walk.queue.length > 0) {
    const { target, depth } = walk.queue.shift()!;
    const node = walk.nodes.get(target.id)!;
    if (target.kind === 'git') {
      await inspectCommit(node, target, trust, options);
      continue;
    }
    // Progress counts images (one registry round each); commit checks are local and quick.
    options.onProgress?.({ ref: target.ref, depth, done, queued: walk.queue.filter((q) => q.target.kind !== 'git').length });
    done++;
    const image = target.image!;
    let found: { verified: VerifiedArtifact[]; manifest: Record<string, unknown> | null };
    try {
      found = await inspectImage(node, image, trust, options);
    } catch (err) {
      if (target.id === rootId) throw err;
      node.verdict = 'unreachable';
      node.reason = isProvenantError(err) ? err.code : 'TRACE_FAILED';
      log.warn({ image: target.ref, code: node.reason, error: errorMessage(err) }, 'link could not be read');
      continue;
    }
    // `index`: the link's position among this node's links of one kind (fan-out limit, docs/limits.md).
    const follow = (next: Target, relation: TraceRelation, index: number): TraceNode | undefined => {
      if (!mayFollow(index, walk.nodes.size, walk.nodes.has(next.id), options.linkLimits)) {
        node.truncated = true;
        node.reason ??= TRACE_LINK_LIMIT;
        return undefined;
      }
      if (next.kind === 'image' && !walk.nodes.has(next.id) && depth >= maxDepth) {
        node.truncated = true;
        return undefined;
      }
      const n = walk.visit(next, depth + 1);
      walk.link(node.id, next.id, relation);
      return n;
    };
    if (found.manifest !== null) {
      if (isIndex(found.manifest)) {
        node.index = true;
        for (const [i, m] of platformManifests(found.manifest, platform).entries()) {
          const child = follow(imageTarget({ registry: image.registry, repository: image.repository, digest: m.digest }), 'platform', i);
          if (child !== undefined) child.platform = m.platform;
        }
      }
      const base = baseImageOf(found.manifest);
      if (base !== undefined) follow(imageTarget(base), 'base-image', 0);
    }
    for (const v of found.verified) {
      const materials = v.statement === undefined ? [] : statementMaterials(v.statement);
      for (const [i, m] of materials.entries()) {
        const next = materialTarget(m.uri, m.digest);
        if (next !== undefined) follow(next, m.relation, i);
      }
    }
  }
}

async function inspectCommit(node: TraceNode, target: Target, trust: TrustPolicy, options: TraceOptions): Promise<void> {
  const at = target.ref.lastIndexOf('@');
  const sha1 = at >= 0 ? target.ref.slice(at + 1) : '';
  if (options.checkCommit === undefined || !/^[a-f0-9]{40}$/.test(sha1)) return;
  const url = target.ref.slice(0, at);
  const rule = ruleFor(trust, 'git', url);
  const check = await options.checkCommit(url, sha1, rule);
  if (check === undefined) return;
  node.verdict = check.verdict;
  if (check.reason !== undefined) node.reason = check.reason;
  if (check.signer !== undefined) node.signer = check.signer;
  if (rule !== undefined) node.rule = rule.name;
  node.source = 'local';
}

interface Tagged<T> {
  readonly item: T;
  readonly source: EvidenceSource;
}

async function readEvidence(ref: string, image: ImageDigestRef, options: TraceOptions): Promise<Tagged<StoredAttestations>[]> {
  const providers: EvidenceProvider[] = [];
  if (options.reader !== undefined) providers.push(registryEvidence(options.reader));
  providers.push(...(options.evidence ?? []));
  const out: Tagged<StoredAttestations>[] = [];
  for (const p of providers) out.push({ item: await p.read(ref, image), source: p.source });
  return out;
}

async function manifestOf(image: ImageDigestRef, options: TraceOptions): Promise<Record<string, unknown> | undefined | null> {
  if (options.manifests !== undefined) return options.manifests.get(image);
  if (options.manifestExists !== undefined) return (await options.manifestExists(image)) ? {} : undefined;
  return null;
}

function signatureCandidates(evidence: readonly Tagged<StoredAttestations>[], image: ImageDigestRef): SignatureCandidate[] {
  const name = `${image.registry}/${image.repository}`;
  const known = evidence.flatMap((e) => e.item.signatures.map((s) => s.payload));
  const seen = new Set<string>();
  const out: SignatureCandidate[] = [];
  for (const { item, source } of evidence) {
    for (const s of item.signatures) {
      if (seen.has(s.signature)) continue;
      seen.add(s.signature);
      out.push({ bundle: s.bundle ?? keyOnlyMessageBundle(s.payload, s.signature), payload: s.payload, source });
    }
    for (const b of item.bundles) {
      const sig = b.messageSignature?.signature;
      if (sig === undefined || seen.has(sig)) continue;
      seen.add(sig);
      const payload = payloadForBundle(b, known, { name, digest: image.digest });
      out.push({ bundle: b, ...(payload === undefined ? {} : { payload }), source });
    }
  }
  return out;
}

async function inspectImage(
  node: TraceNode,
  image: ImageDigestRef,
  trust: TrustPolicy,
  options: TraceOptions,
): Promise<{ verified: VerifiedArtifact[]; manifest: Record<string, unknown> | null }> {
  const manifest = await manifestOf(image, options);
  if (manifest === undefined) {
    node.verdict = 'not-found';
    node.reason = 'OCI_IMAGE_NOT_FOUND';
    return { verified: [], manifest: null };
  }
  const rule = ruleFor(trust, 'image', node.ref);
  if (rule !== undefined && trust.rules.length > 0) node.rule = rule.name;
  const identities = rule?.identities ?? [];
  const policies = identities.map((i) => i.policy);
  const extensions = identities.map((i) => i.extensions);
  const evidence = await readEvidence(node.ref, image, options);

  const bundles: Tagged<SerializedBundleT>[] = [];
  const seen = new Set<string>();
  for (const { item, source } of evidence) {
    for (const b of dsseBundles(item)) {
      const key = `${b.dsseEnvelope?.payload ?? ''}\n${(b.dsseEnvelope?.signatures ?? []).map((x) => x.sig).join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      bundles.push({ item: b, source });
    }
  }
  if (manifest === null && bundles.length === 0 && evidence.every((e) => e.item.signatures.length === 0 && e.item.bundles.length === 0)) {
    node.verdict = 'not-found';
    node.reason = 'TRACE_NO_EVIDENCE';
    return { verified: [], manifest: null };
  }
  node.attestations = bundles.length;
  const hex = image.digest.slice('sha256:'.length);
  const outcomes = bundles.map((b) => ({ source: b.source, outcome: classifyAttestation(b.item, policies, hex, extensions) }));
  const verified: { v: VerifiedArtifact; source: EvidenceSource }[] = [];
  let violation: string | undefined;
  for (const { source, outcome } of outcomes) {
    if (outcome.status !== 'verified') continue;
    const why = ruleViolation(outcome.verified, rule);
    if (why === undefined) verified.push({ v: outcome.verified, source });
    else violation ??= why;
  }
  const first = verified[0];
  if (first !== undefined) {
    node.verdict = 'verified';
    node.source = first.source;
    node.inputs = verified.map((x) => `sha256:${createHash('sha256').update(x.v.payload).digest('hex')}`);
    describe(node, first.v);
  } else if (violation !== undefined) {
    node.verdict = 'policy-violation';
    node.reason = violation;
  } else {
    const { verdict, reason } = verdictOf(outcomes.map((o) => o.outcome));
    node.verdict = verdict;
    if (reason !== undefined) node.reason = reason;
    const failing = outcomes.find((o) => o.outcome.status !== 'verified');
    if (failing !== undefined) node.source = failing.source;
    const badLog = (options.evidence ?? []).find((p) => (p.rejected?.(image.digest) ?? 0) > 0);
    if (verdict === 'unsigned' && badLog !== undefined) {
      // Only a log entry that does not verify (SET, inclusion proof or body): not evidence, but not silence either.
      node.verdict = 'invalid-signature';
      node.reason = 'TLOG_ENTRY_INVALID';
      node.source = badLog.source;
    }
  }
  const sig = classifySignatures(signatureCandidates(evidence, image), identities, image.digest);
  node.signature = {
    verdict: sig.verdict,
    count: sig.count,
    ...(sig.reason === undefined ? {} : { reason: sig.reason }),
    ...(sig.signer === undefined ? {} : { signer: signerOf(sig.signer) }),
    ...(sig.source === undefined ? {} : { source: sig.source }),
  };
  return { verified: verified.map((x) => x.v), manifest };
}

const failingVerdicts: readonly (TraceVerdict | undefined)[] = ['invalid-signature', 'identity-mismatch', 'unreachable', 'policy-violation'];

/** Whether a root (or a workload's container image, or an index's platform manifest) counts as verified. */
function rootVerified(graph: TraceGraph, id: string, byId: Map<string, TraceNode>): boolean {
  const node = byId.get(id);
  if (node === undefined) return false;
  const children = (relation: TraceRelation): string[] => graph.edges.filter((e) => e.from === id && e.relation === relation).map((e) => e.to);
  if (node.kind === 'workload') {
    const images = children('container');
    return images.length > 0 && images.every((c) => rootVerified(graph, c, byId));
  }
  if (node.verdict === 'verified') return true;
  if (node.index === true && node.verdict === 'unsigned') {
    const platforms = children('platform');
    return platforms.length > 0 && platforms.every((c) => rootVerified(graph, c, byId));
  }
  return false;
}

/** Exit status of a trace: 0 when the root is verified and no signed link failed, else 1. */
export function traceExitCode(graph: TraceGraph): 0 | 1 {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  if (!rootVerified(graph, graph.root, byId)) return 1;
  const failing = graph.nodes.some((n) => failingVerdicts.includes(n.verdict) || failingVerdicts.includes(n.signature?.verdict));
  return failing ? 1 : 0;
}
