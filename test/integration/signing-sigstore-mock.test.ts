import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';

function jwt(claims: Record<string, unknown>): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'RS256' })}.${enc(claims)}.c2ln`;
}

const k8sToken = jwt({
  iss: 'https://kubernetes.default.svc',
  sub: 'system:serviceaccount:build:pipeline',
  aud: ['sigstore'],
  'kubernetes.io': { namespace: 'build', serviceaccount: { name: 'pipeline' } },
});

describe('sigstore mock (served over node:http)', () => {
  let mock: SigstoreMock;
  beforeAll(async () => {
    mock = await startSigstoreMock();
  });
  afterAll(async () => {
    await mock.stop();
  });

  function builder(withTsa = false): DSSEBundleBuilder {
    const signer = new FulcioSigner({ identityProvider: { getToken: async () => k8sToken }, fulcioBaseURL: mock.fulcioUrl });
    const witnesses = [new RekorWitness({ rekorBaseURL: mock.rekorUrl, entryType: 'dsse', fetchOnConflict: true })];
    const all = withTsa ? [...witnesses, new TSAWitness({ tsaBaseURL: mock.tsaUrl })] : witnesses;
    return new DSSEBundleBuilder({ signer, witnesses: all, certificateChain: false });
  }

  function verify(json: unknown, san: string): void {
    const trust = toTrustMaterial(TrustedRoot.fromJSON(mock.trustedRoot));
    const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
    const bundle = bundleFromJSON(json);
    verifier.verify(toSignedEntity(bundle), { subjectAlternativeName: san, extensions: { issuer: 'https://kubernetes.default.svc' } });
  }

  it('issues a Kubernetes-SAN certificate and logs a canonical dsse entry that verifies', async () => {
    const before = mock.rekorEntryCount();
    const bundle = await builder(true).create({ data: Buffer.from('{"_type":"x"}'), type: 'application/vnd.in-toto+json' });
    const json = bundleToJSON(bundle);
    expect(mock.rekorEntryCount()).toBe(before + 1);
    expect(mock.fulcioCertificateCount()).toBeGreaterThan(0);
    verify(json, 'https://kubernetes.io/namespaces/build/serviceaccounts/pipeline');
    expect(() => verify(json, 'https://kubernetes.io/namespaces/build/serviceaccounts/other')).toThrow();
  });

  it('answers a forced 409 with a findable existing entry', async () => {
    const before = mock.rekorEntryCount();
    mock.failNextRekor(409);
    const bundle = await builder().create({ data: Buffer.from('{"a":1}'), type: 'application/vnd.in-toto+json' });
    expect(mock.rekorEntryCount()).toBe(before + 1);
    const entry = bundle.verificationMaterial.tlogEntries[0];
    expect(entry).toBeDefined();
    verify(bundleToJSON(bundle), 'https://kubernetes.io/namespaces/build/serviceaccounts/pipeline');
    const byIndex = await fetch(`${mock.rekorUrl}/api/v1/log/entries?logIndex=${entry?.logIndex ?? ''}`);
    expect(byIndex.status).toBe(200);
    const [uuid] = Object.keys((await byIndex.json()) as object);
    const byUuid = await fetch(`${mock.rekorUrl}/api/v1/log/entries/${uuid ?? ''}`);
    expect(byUuid.status).toBe(200);
  });

  it('answers forced 5xx without logging, then recovers', async () => {
    const before = mock.rekorEntryCount();
    mock.failNextRekor(503, 1);
    await expect(builder().create({ data: Buffer.from('{"b":2}'), type: 'application/vnd.in-toto+json' })).rejects.toThrow();
    expect(mock.rekorEntryCount()).toBe(before);
    await builder().create({ data: Buffer.from('{"b":2}'), type: 'application/vnd.in-toto+json' });
    expect(mock.rekorEntryCount()).toBe(before + 1);
  });

  it('returns 404 for unknown entries', async () => {
    expect((await fetch(`${mock.rekorUrl}/api/v1/log/entries?logIndex=99999999`)).status).toBe(404);
    expect((await fetch(`${mock.rekorUrl}/api/v1/log/entries/${'0'.repeat(64)}`)).status).toBe(404);
  });
});
