/**
 * SLSA Verification Summary Attestations (https://slsa.dev/spec/v1.0/verification_summary): what
 * `verify` and `trace` concluded about one image, as an in-toto statement a downstream consumer can
 * check instead of redoing the verification. Pure: the caller passes the clock and the verdicts.
 */
import { createHash } from 'node:crypto';
import type { TraceGraph } from './trace.js';

export const vsaPredicateType = 'https://slsa.dev/verification_summary/v1';
export const provenantVerifierId = 'https://github.com/provenant/provenant/verifier';

export interface VsaInput {
  /** `registry/repo` and `sha256:<hex>` of the verified image. */
  readonly resource: { readonly name: string; readonly digest: string };
  readonly passed: boolean;
  /** The attestations the verdict rests on (uri + sha256 of the verified DSSE payload). */
  readonly inputAttestations: readonly { readonly uri: string; readonly digest: string }[];
  /** What the verification was checked against (`--policy` file or the flags), by digest. */
  readonly policy: { readonly uri: string; readonly digest: string };
  readonly verifiedLevels: readonly string[];
  readonly dependencyLevels?: Readonly<Record<string, number>>;
  readonly timeVerified: Date;
  readonly verifierVersion: string;
}

function digestMap(digest: string): Record<string, string> {
  const colon = digest.indexOf(':');
  return colon < 0 ? { sha256: digest } : { [digest.slice(0, colon)]: digest.slice(colon + 1) };
}

/** The VSA statement bytes (in-toto Statement v1). */
export function buildVsa(input: VsaInput): Uint8Array {
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: input.resource.name, digest: digestMap(input.resource.digest) }],
    predicateType: vsaPredicateType,
    predicate: {
      verifier: { id: provenantVerifierId, version: { provenant: input.verifierVersion } },
      timeVerified: input.timeVerified.toISOString(),
      resourceUri: `${input.resource.name}@${input.resource.digest}`,
      policy: { uri: input.policy.uri, digest: digestMap(input.policy.digest) },
      inputAttestations: input.inputAttestations.map((a) => ({ uri: a.uri, digest: digestMap(a.digest) })),
      verificationResult: input.passed ? 'PASSED' : 'FAILED',
      verifiedLevels: [...input.verifiedLevels],
      ...(input.dependencyLevels === undefined ? {} : { dependencyLevels: input.dependencyLevels }),
      slsaVersion: '1.0',
    },
  };
  return new TextEncoder().encode(JSON.stringify(statement));
}

/** `sha256:<hex>` of bytes. */
export function sha256Of(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Levels claimed: SLSA_BUILD_LEVEL_2 for an image whose provenance verified under the trust policy
 * (provenance exists, signed by an accepted build platform identity), else none (FAILED). Dependencies
 * (every other image of the graph) are counted by the same rule, SLSA_BUILD_LEVEL_0 when unverified.
 */
export function vsaFromTrace(
  graph: TraceGraph,
  passed: boolean,
  policy: { readonly uri: string; readonly digest: string },
  clock: { readonly now: Date; readonly version: string },
): VsaInput {
  const root = graph.nodes.find((n) => n.id === graph.root);
  const at = root?.ref.lastIndexOf('@') ?? -1;
  if (root === undefined || root.kind !== 'image' || at < 0) throw new Error('a VSA is about one image: trace an image, not a workload');
  const dependencyLevels: Record<string, number> = {};
  for (const n of graph.nodes) {
    if (n.kind !== 'image' || n.id === graph.root) continue;
    const level = n.verdict === 'verified' ? 'SLSA_BUILD_LEVEL_2' : 'SLSA_BUILD_LEVEL_0';
    dependencyLevels[level] = (dependencyLevels[level] ?? 0) + 1;
  }
  return {
    resource: { name: root.ref.slice(0, at), digest: root.ref.slice(at + 1) },
    passed,
    inputAttestations: (root.inputs ?? []).map((digest) => ({ uri: `${root.ref}#attestation`, digest })),
    policy,
    verifiedLevels: passed && root.verdict === 'verified' ? ['SLSA_BUILD_LEVEL_2'] : [],
    dependencyLevels,
    timeVerified: clock.now,
    verifierVersion: clock.version,
  };
}
