import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, type Signer } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createEphemeralSigner } from '../../src/signing/index.js';
import { createOciReader } from '../../src/storage/oci/index.js';
import type { VerificationPolicy } from '../../src/verify/index.js';
import { createManifestProbe, traceExitCode, traceImage, type TraceGraph } from '../../src/verify/trace.js';
import { pushTestImage, type PushedImage } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { attach, ociMaterial, provenanceStatement, type Material } from '../support/supply-chain.js';

const ISSUER = 'https://kubernetes.default.svc';
const san = (sa: string): string => `https://kubernetes.io/namespaces/build/serviceaccounts/${sa}`;

function saToken(sa: string): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const claims = { iss: ISSUER, sub: `system:serviceaccount:build:${sa}`, aud: ['sigstore'], 'kubernetes.io': { namespace: 'build', serviceaccount: { name: sa } } };
  return `${enc({ alg: 'RS256' })}.${enc(claims)}.c2ln`;
}

let registry: RegistryHandle;
let mock: SigstoreMock;
const keyImageSigner = createEphemeralSigner();
let images: Record<'root' | 'foreign' | 'tampered' | 'keyed', PushedImage>;

async function sign(signer: Signer, payload: Uint8Array): Promise<SerializedBundle> {
  const witnesses = [new RekorWitness({ rekorBaseURL: mock.rekorUrl, entryType: 'dsse', fetchOnConflict: true })];
  const builder = new DSSEBundleBuilder({ signer, witnesses, certificateChain: false });
  return bundleToJSON(await builder.create({ data: Buffer.from(payload), type: 'application/vnd.in-toto+json' }));
}

const fulcio = (sa: string): Signer => new FulcioSigner({ identityProvider: { getToken: async () => saToken(sa) }, fulcioBaseURL: mock.fulcioUrl });

beforeAll(async () => {
  [registry, mock] = await Promise.all([startRegistry(), startSigstoreMock()]);
  const [root, foreign, tampered, keyed] = (await Promise.all(
    ['keyless/app', 'keyless/foreign', 'keyless/tampered', 'keyless/keyed'].map((repository) => pushTestImage({ host: registry.host, repository })),
  )) as [PushedImage, PushedImage, PushedImage, PushedImage];
  images = { root, foreign, tampered, keyed };
  const materials: Material[] = [ociMaterial(foreign), ociMaterial(tampered), ociMaterial(keyed)];
  const rootPayload = provenanceStatement(root, materials);
  await attach(root, await sign(fulcio('pipeline'), rootPayload), rootPayload, 'both');
  const foreignPayload = provenanceStatement(foreign, []);
  await attach(foreign, await sign(fulcio('intruder'), foreignPayload), foreignPayload, 'sigstore-bundle');
  const signed = provenanceStatement(tampered, []);
  const altered = provenanceStatement(tampered, [ociMaterial(root)]);
  const bundle = await sign(fulcio('pipeline'), signed);
  await attach(tampered, { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope!, payload: Buffer.from(altered).toString('base64') } } as SerializedBundle, altered, 'sigstore-bundle');
  // Signed with a key (no key hint, as provenant's key signers do) and logged in Rekor.
  const keyedPayload = provenanceStatement(keyed, []);
  await attach(keyed, await sign(keyImageSigner, keyedPayload), keyedPayload, 'both');
}, 30_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), mock?.stop()]);
});

function trace(ref: string, policies: VerificationPolicy[]): Promise<TraceGraph> {
  const logger = createSilentLogger();
  return traceImage(ref, {
    reader: createOciReader({ config: { repository: undefined, insecure: true }, logger }),
    manifestExists: createManifestProbe({ insecure: true, logger }),
    policies,
    logger,
  });
}

const verdict = (g: TraceGraph, image: PushedImage): string | undefined => g.nodes.find((n) => n.ref === image.ref)?.verdict;

describe('trace with a keyless identity', () => {
  it('tells a foreign identity, a tampered payload and a key-signed link apart', async () => {
    const g = await trace(images.root.ref, [{ identity: { san: san('pipeline'), issuer: ISSUER }, trustedRoot: mock.trustedRoot }]);
    const root = g.nodes.find((n) => n.id === g.root);
    expect(root).toMatchObject({ verdict: 'verified', signer: `${san('pipeline')} (${ISSUER})` });
    expect(verdict(g, images.foreign)).toBe('identity-mismatch');
    expect(g.nodes.find((n) => n.ref === images.foreign.ref)?.reason).toBe('VERIFY_IDENTITY_MISMATCH');
    expect(verdict(g, images.tampered)).toBe('invalid-signature');
    // Intact, but signed with a key while a certificate identity was required.
    expect(verdict(g, images.keyed)).toBe('identity-mismatch');
    expect(traceExitCode(g)).toBe(1);
  });

  it('identifies the signer of a hint-less key bundle from its Rekor entry', async () => {
    const other = createEphemeralSigner();
    const foreign = await trace(images.keyed.ref, [{ key: other.publicKeyPem }]);
    expect(foreign.nodes[0]).toMatchObject({ verdict: 'identity-mismatch', reason: 'VERIFY_KEY_MISMATCH' });
    const own = await trace(images.keyed.ref, [{ key: keyImageSigner.publicKeyPem }, { identity: { san: san('pipeline'), issuer: ISSUER }, trustedRoot: mock.trustedRoot }]);
    expect(own.nodes[0]?.verdict).toBe('verified');
    expect(traceExitCode(own)).toBe(0);
  });
});
