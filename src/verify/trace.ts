/**
 * `trace`: walk an image's supply chain link by link. Verify the image's attestations, then follow the
 * materials (SLSA v0.2) / resolved dependencies (SLSA v1) of its verified provenance: images are traced
 * recursively (breadth first, so a node's depth is its shortest distance from the root), git commits and
 * other artifacts are leaves. Only verified statements are followed: an unverified claim about materials
 * is not evidence.
 */
import { createHash, createPublicKey } from 'node:crypto';
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
} from '../storage/oci/index.js';
import { classifyAttestation, dsseBundles, type AttestationOutcome } from './trace-classify.js';
import type { VerificationPolicy, VerifiedArtifact } from './verify-bundle.js';

export type TraceVerdict = 'verified' | 'unsigned' | 'invalid-signature' | 'identity-mismatch' | 'not-found' | 'unreachable';
export type TraceNodeKind = 'image' | 'git' | 'artifact';
export type TraceRelation = 'material' | 'resolvedDependency' | 'subject';

export interface TraceNode {
  /** Stable id: `image:<repo>@sha256:…`, `git:<uri>@<sha1>`, `artifact:<uri>@<alg>:<hex>`. */
  readonly id: string;
  readonly kind: TraceNodeKind;
  /** `registry/repo@sha256:…` for images; the URI (with `@digest`) otherwise. */
  readonly ref: string;
  /** Shortest distance from the root (root = 0). */
  readonly depth: number;
  /** Images only (git and other artifacts are sources, not verified). */
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
  /** The image has materials that were not followed because of `maxDepth`. */
  truncated?: boolean;
}

export interface TraceEdge {
  readonly from: string;
  readonly to: string;
  readonly relation: TraceRelation;
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

export interface TraceOptions {
  readonly reader: OciReader;
  /** Whether an image manifest exists (see `createManifestProbe`). */
  readonly manifestExists: (image: ImageDigestRef) => Promise<boolean>;
  /** A bundle is verified when any policy accepts it (several `--key`s, or a keyless identity). */
  readonly policies: readonly VerificationPolicy[];
  readonly maxDepth?: number;
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

function signerOf(v: VerifiedArtifact): string {
  if ('publicKey' in v.signer) {
    const der = createPublicKey(v.signer.publicKey).export({ format: 'der', type: 'spki' });
    return `key sha256:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
  }
  return v.signer.issuer === undefined ? v.signer.san : `${v.signer.san} (${v.signer.issuer})`;
}

function describe(node: TraceNode, v: VerifiedArtifact): void {
  const predicate = obj(v.statement?.['predicate']) ?? {};
  node.predicateType = v.predicateType ?? '';
  const builder = str(obj(predicate['builder'])?.['id']) ?? str(obj(obj(obj(predicate['runDetails'])?.['builder']))?.['id']);
  const buildType = str(predicate['buildType']) ?? str(obj(predicate['buildDefinition'])?.['buildType']);
  if (builder !== undefined) node.builder = builder;
  if (buildType !== undefined) node.buildType = buildType;
  node.signer = signerOf(v);
}

/** Worst failing outcome first: a tampered attestation outweighs a foreign one. */
function verdictOf(outcomes: readonly AttestationOutcome[]): { verdict: TraceVerdict; reason?: string } {
  const invalid = outcomes.find((o) => o.status === 'invalid-signature' || o.status === 'subject-mismatch');
  if (invalid !== undefined && invalid.status !== 'verified') return { verdict: 'invalid-signature', reason: invalid.code };
  const foreign = outcomes.find((o) => o.status === 'identity-mismatch');
  if (foreign !== undefined && foreign.status !== 'verified') return { verdict: 'identity-mismatch', reason: foreign.code };
  return { verdict: 'unsigned' };
}

/**
 * Traces `ref` (`registry/repo@sha256:…`). Throws `input` `OCI_REFERENCE_INVALID` for a bad root
 * reference and any registry error met on the root; errors on deeper links become `unreachable` nodes.
 */
export async function traceImage(ref: string, options: TraceOptions): Promise<TraceGraph> {
  const maxDepth = options.maxDepth ?? defaultTraceMaxDepth;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) throw new ProvenantError('input', 'TRACE_DEPTH_INVALID', `max depth must be a whole number ≥ 0, got ${maxDepth}`);
  if (options.policies.length === 0) throw new ProvenantError('input', 'TRACE_POLICY_REQUIRED', 'tracing needs a key or a keyless identity to verify with');
  const root = imageTarget(parseImageDigestRef(ref));
  const log = options.logger.child({ trace: root.ref });
  const nodes = new Map<string, TraceNode>();
  const edges: TraceEdge[] = [];
  const edgeKeys = new Set<string>();
  const queue: { target: Target; depth: number }[] = [];

  const visit = (target: Target, depth: number): void => {
    if (nodes.has(target.id)) return; // seen: linked, never walked twice (cycles end here)
    nodes.set(target.id, { id: target.id, kind: target.kind, ref: target.ref, depth });
    if (target.image !== undefined) queue.push({ target, depth });
  };
  const link = (from: string, to: string, relation: TraceRelation): void => {
    const key = `${from}\n${to}\n${relation}`;
    if (from === to || edgeKeys.has(key)) return;
    edgeKeys.add(key);
    edges.push({ from, to, relation });
  };

  visit(root, 0);
  let done = 0;
  while (queue.length > 0) {
    const { target, depth } = queue.shift()!;
    const node = nodes.get(target.id)!;
    const image = target.image!;
    options.onProgress?.({ ref: target.ref, depth, done, queued: queue.length });
    let verified: VerifiedArtifact[];
    try {
      verified = await inspectImage(node, image, options);
    } catch (err) {
      if (target.id === root.id) throw err;
      node.verdict = 'unreachable';
      node.reason = isProvenantError(err) ? err.code : 'TRACE_FAILED';
      log.warn({ image: target.ref, code: node.reason, error: errorMessage(err) }, 'link could not be read');
      verified = [];
    }
    done++;
    for (const v of verified) {
      const materials = v.statement === undefined ? [] : statementMaterials(v.statement);
      for (const m of materials) {
        const next = materialTarget(m.uri, m.digest);
        if (next === undefined) continue;
        if (next.kind === 'image' && !nodes.has(next.id) && depth >= maxDepth) {
          node.truncated = true;
          continue;
        }
        visit(next, depth + 1);
        link(node.id, next.id, m.relation);
      }
    }
  }
  return { root: root.id, maxDepth, nodes: [...nodes.values()], edges };
}

async function inspectImage(node: TraceNode, image: ImageDigestRef, options: TraceOptions): Promise<VerifiedArtifact[]> {
  if (!(await options.manifestExists(image))) {
    node.verdict = 'not-found';
    node.reason = 'OCI_IMAGE_NOT_FOUND';
    return [];
  }
  const stored = await options.reader.readAttestations(node.ref);
  const bundles = dsseBundles(stored);
  node.attestations = bundles.length;
  const hex = image.digest.slice('sha256:'.length);
  const outcomes = bundles.map((b) => classifyAttestation(b, options.policies, hex));
  const verified = outcomes.flatMap((o) => (o.status === 'verified' ? [o.verified] : []));
  const first = verified[0];
  if (first !== undefined) {
    node.verdict = 'verified';
    describe(node, first);
  } else {
    const { verdict, reason } = verdictOf(outcomes);
    node.verdict = verdict;
    if (reason !== undefined) node.reason = reason;
  }
  return verified;
}

/** Exit status of a trace: 0 when the root is verified and no signed link failed, else 1. */
export function traceExitCode(graph: TraceGraph): 0 | 1 {
  const root = graph.nodes.find((n) => n.id === graph.root);
  if (root?.verdict !== 'verified') return 1;
  const failing: readonly (TraceVerdict | undefined)[] = ['invalid-signature', 'identity-mismatch', 'unreachable'];
  return graph.nodes.some((n) => failing.includes(n.verdict)) ? 1 : 0;
}
