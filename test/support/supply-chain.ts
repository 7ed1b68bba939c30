/**
 * Seeds a registry with a small supply chain for `trace` tests: real images pushed with provenant's
 * registry client, SLSA v0.2 / v1 provenance signed with in-test keys and attached exactly as the
 * controller does (`createOciStorage`, in the three encodings). Keys live only in memory.
 *
 *   app ──material──▶ base ──resolvedDependency──▶ base-step (✔) ──▶ git
 *    │                  ├──▶ rogue (signed by another key: identity mismatch)
 *    │                  ├──▶ missing (never pushed: not found)
 *    │                  └──▶ git (base repo)
 *    ├──▶ step-build (✔)   ├──▶ step-push (payload altered after signing: invalid signature)
 *    ├──▶ tools (no attestation: unsigned, given as plain repo@sha256)
 *    └──▶ git (app repo)
 *   cycle-a ⇄ cycle-b (each one's materials include the other)
 */
import { createSilentLogger } from '../../src/observability/logger.js';
import { createOciStorage } from '../../src/storage/oci/index.js';
import type { OciEncoding } from '../../src/config/types.js';
import type { SerializedBundle } from '@sigstore/bundle';
import { pushTestImage, signProvenance, type PushedImage, type TestKey } from './oci-image.js';

export const SLSA_V02 = 'https://slsa.dev/provenance/v0.2';
export const SLSA_V1 = 'https://slsa.dev/provenance/v1';
export const BUILDER_ID = 'https://tekton.dev/chains/v2';

export interface Material {
  readonly uri: string;
  readonly digest: Record<string, string>;
}

export function ociMaterial(image: PushedImage): Material {
  return { uri: `oci://${image.name}`, digest: { sha256: image.hex } };
}

export function gitMaterial(repo: string, sha1: string): Material {
  return { uri: `git+https://github.com/acme/${repo}.git`, digest: { sha1 } };
}

/** SLSA v0.2 statement (`predicate.materials`) or v1 (`buildDefinition.resolvedDependencies`) about `image`. */
export function provenanceStatement(image: PushedImage, materials: readonly Material[], version: 'v0.2' | 'v1' = 'v0.2'): Uint8Array {
  const subject = [{ name: image.name, digest: { sha256: image.hex } }];
  const statement =
    version === 'v0.2'
      ? {
          _type: 'https://in-toto.io/Statement/v0.1',
          predicateType: SLSA_V02,
          subject,
          predicate: { builder: { id: BUILDER_ID }, buildType: 'tekton.dev/v1beta1/TaskRun', invocation: { parameters: {} }, materials },
        }
      : {
          _type: 'https://in-toto.io/Statement/v1',
          predicateType: SLSA_V1,
          subject,
          predicate: {
            buildDefinition: { buildType: 'https://tekton.dev/chains/v2/slsa', externalParameters: {}, resolvedDependencies: materials },
            runDetails: { builder: { id: BUILDER_ID }, metadata: {} },
          },
        };
  return new TextEncoder().encode(JSON.stringify(statement));
}

/** Attaches a signed statement to `image` the way the controller's OCI storage does. */
export async function attach(image: PushedImage, bundle: SerializedBundle, payload: Uint8Array, encoding: OciEncoding, predicateType = SLSA_V02): Promise<void> {
  const storage = createOciStorage({ config: { repository: undefined, insecure: true, encoding }, logger: createSilentLogger(), tagUpdate: { settleMs: 5 } });
  await storage.store({
    run: { kind: 'TaskRun', namespace: 'ci', name: `build-${image.hex.slice(0, 8)}`, uid: image.hex.slice(0, 12) },
    artifact: { type: 'provenance', shortKey: image.hex.slice(0, 12), subjects: [{ name: image.name, digest: { sha256: image.hex } }], predicateType },
    payload,
    bundle,
  });
}

export async function signAndAttach(
  key: TestKey,
  image: PushedImage,
  materials: readonly Material[],
  options: { version?: 'v0.2' | 'v1'; encoding?: OciEncoding } = {},
): Promise<void> {
  const version = options.version ?? 'v0.2';
  const payload = provenanceStatement(image, materials, version);
  await attach(image, await signProvenance(key, payload), payload, options.encoding ?? 'both', version === 'v0.2' ? SLSA_V02 : SLSA_V1);
}

/** Signs a statement, then swaps the envelope's payload for another one (same subject): a tampered attestation. */
export async function attachTampered(key: TestKey, image: PushedImage, materials: readonly Material[], encoding: OciEncoding = 'dsse'): Promise<void> {
  const signed = provenanceStatement(image, materials);
  const bundle = await signProvenance(key, signed);
  const altered = provenanceStatement(image, [...materials, { uri: 'oci://evil.example/backdoor', digest: { sha256: 'e'.repeat(64) } }]);
  const tampered = { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope!, payload: Buffer.from(altered).toString('base64') } } as SerializedBundle;
  await attach(image, tampered, altered, encoding);
}

export interface SupplyChain {
  readonly app: PushedImage;
  readonly base: PushedImage;
  readonly baseStep: PushedImage;
  readonly stepBuild: PushedImage;
  readonly stepPush: PushedImage;
  readonly tools: PushedImage;
  readonly rogue: PushedImage;
  /** Named as a material but never pushed. */
  readonly missingRef: string;
  readonly cycleA: PushedImage;
  readonly cycleB: PushedImage;
  readonly appGit: Material;
  readonly baseGit: Material;
}

export async function seedSupplyChain(host: string, key: TestKey, wrongKey: TestKey): Promise<SupplyChain> {
  const push = (repository: string): Promise<PushedImage> => pushTestImage({ host, repository });
  const [app, base, baseStep, stepBuild, stepPush, tools, rogue, cycleA, cycleB] = await Promise.all(
    ['acme/app', 'acme/base', 'tekton/step-apk', 'tekton/step-build', 'tekton/step-push', 'acme/tools', 'thirdparty/rogue', 'loop/a', 'loop/b'].map(push),
  ) as [PushedImage, PushedImage, PushedImage, PushedImage, PushedImage, PushedImage, PushedImage, PushedImage, PushedImage];
  const missingHex = 'd'.repeat(64);
  const missingRef = `${host}/acme/missing@sha256:${missingHex}`;
  const appGit = gitMaterial('app', 'a'.repeat(40));
  const baseGit = gitMaterial('base', 'b'.repeat(40));

  await Promise.all([
    signAndAttach(key, app, [ociMaterial(base), ociMaterial(stepBuild), ociMaterial(stepPush), { uri: tools.ref, digest: {} }, appGit], { encoding: 'both' }),
    signAndAttach(
      key,
      base,
      [ociMaterial(baseStep), ociMaterial(rogue), { uri: `oci://${host}/acme/missing`, digest: { sha256: missingHex } }, baseGit],
      { version: 'v1', encoding: 'sigstore-bundle' },
    ),
    signAndAttach(key, baseStep, [baseGit], { encoding: 'dsse' }),
    signAndAttach(key, stepBuild, [], { encoding: 'dsse' }),
    attachTampered(key, stepPush, []),
    signAndAttach(wrongKey, rogue, [], { encoding: 'both' }),
    signAndAttach(key, cycleA, [ociMaterial(cycleB)], { encoding: 'both' }),
    signAndAttach(key, cycleB, [ociMaterial(cycleA)], { encoding: 'both' }),
  ]);
  return { app, base, baseStep, stepBuild, stepPush, tools, rogue, missingRef, cycleA, cycleB, appGit, baseGit };
}
