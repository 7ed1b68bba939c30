import { describe, it, expect, beforeAll } from 'vitest';
import { createHash, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, type Signer } from '@sigstore/sign';
import {
  annotationsForStorage,
  annotationsSize,
  createTektonStorage,
  defaultMaxAnnotationBytes,
  kubernetesAnnotationsLimitBytes,
} from '../../../src/storage/tekton-storage.js';
import type { StoreRequest } from '../../../src/storage/types.js';
import type { RunKey } from '../../../src/tekton/run-key.js';
import { createSilentLogger } from '../../../src/observability/logger.js';
import { isProvenantError } from '../../../src/errors.js';

const run: RunKey = { kind: 'TaskRun', namespace: 'build', name: 'image-build', uid: '3f2a9c1e-0b1d-4e5f-8a6b-7c8d9e0f1a2b' };
const shortKey = `taskrun-${run.uid}`;
const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [] }));

let privateKey: KeyObject;
let publicPem: string;
let certPem: string;

function keySigner(key: 'key' | 'cert'): Signer {
  return {
    sign: async (data: Buffer) => ({
      signature: nodeSign('sha256', data, privateKey),
      key: key === 'key' ? { $case: 'publicKey', publicKey: publicPem, hint: 'test-key' } : { $case: 'x509Certificate', certificate: certPem },
    }),
  };
}

async function dsseBundle(key: 'key' | 'cert', payload: Buffer = statement): Promise<SerializedBundle> {
  const builder = new DSSEBundleBuilder({ signer: keySigner(key), witnesses: [] });
  return bundleToJSON(await builder.create({ data: payload, type: 'application/vnd.in-toto+json' }));
}

function provenanceRequest(bundle: SerializedBundle, payload: Buffer = statement): StoreRequest {
  return { run, artifact: { type: 'provenance', shortKey, subjects: [] }, payload, bundle };
}

beforeAll(() => {
  // Throwaway test-only key and self-signed certificate.
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  privateKey = pair.privateKey;
  publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const dir = mkdtempSync(path.join(tmpdir(), 'provenant-tekton-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    execFileSync('sh', ['-c', `cat > ${keyFile}`], { input: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    execFileSync('openssl', ['req', '-new', '-x509', '-key', keyFile, '-subj', '/CN=provenant-test', '-days', '1', '-out', path.join(dir, 'cert.pem')], {
      stdio: 'ignore',
    });
    certPem = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const b64decode = (value: string | undefined): string => Buffer.from(value ?? '', 'base64').toString('utf8');

describe('annotationsForStorage (Chains-compatible)', () => {
  it('writes exactly the four Chains keys, std base64', async () => {
    const bundle = await dsseBundle('key');
    const annotations = annotationsForStorage(provenanceRequest(bundle));
    expect(Object.keys(annotations).sort()).toEqual([
      `chains.tekton.dev/cert-${shortKey}`,
      `chains.tekton.dev/chain-${shortKey}`,
      `chains.tekton.dev/payload-${shortKey}`,
      `chains.tekton.dev/signature-${shortKey}`,
    ]);
    for (const value of Object.values(annotations)) expect(value).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
    expect(annotations[`chains.tekton.dev/payload-${shortKey}`]).toBe(statement.toString('base64'));
  });

  it('stores the whole DSSE envelope JSON as the signature, like Chains\' wrapped signer', async () => {
    const bundle = await dsseBundle('key');
    const annotations = annotationsForStorage(provenanceRequest(bundle));
    const envelope = JSON.parse(b64decode(annotations[`chains.tekton.dev/signature-${shortKey}`])) as {
      payloadType: string;
      payload: string;
      signatures: { sig: string }[];
    };
    expect(envelope.payloadType).toBe('application/vnd.in-toto+json');
    expect(Buffer.from(envelope.payload, 'base64')).toEqual(statement);
    expect(envelope.signatures).toHaveLength(1);
    expect(envelope.signatures[0]!.sig).toBe(bundle.dsseEnvelope!.signatures[0]!.sig);
  });

  it('serialises the envelope with the same bytes sigstore-js sends to Rekor', async () => {
    const bundle = await dsseBundle('key');
    const signature = Buffer.from(annotationsForStorage(provenanceRequest(bundle))[`chains.tekton.dev/signature-${shortKey}`]!, 'base64');
    const { envelopeToJSON, envelopeFromJSON } = await import('@sigstore/bundle');
    const rekorBytes = Buffer.from(JSON.stringify(envelopeToJSON(envelopeFromJSON(bundle.dsseEnvelope))));
    expect(createHash('sha256').update(signature).digest('hex')).toBe(createHash('sha256').update(rekorBytes).digest('hex'));
  });

  it('cert and chain are empty strings for a key signer (b64 of "" is "")', async () => {
    const annotations = annotationsForStorage(provenanceRequest(await dsseBundle('key')));
    expect(annotations[`chains.tekton.dev/cert-${shortKey}`]).toBe('');
    expect(annotations[`chains.tekton.dev/chain-${shortKey}`]).toBe('');
  });

  it('cert is the PEM of the signing certificate', async () => {
    const annotations = annotationsForStorage(provenanceRequest(await dsseBundle('cert')));
    expect(b64decode(annotations[`chains.tekton.dev/cert-${shortKey}`])).toBe(certPem);
    expect(annotations[`chains.tekton.dev/chain-${shortKey}`]).toBe('');
  });

  it('image signature: payload = simple-signing bytes, signature = b64 of the raw signature', async () => {
    const simple = Buffer.from('{"critical":{"identity":{"docker-reference":"registry.example/app"},"image":{"docker-manifest-digest":"sha256:0123"},"type":"cosign container image signature"},"optional":null}');
    const builder = new MessageSignatureBundleBuilder({ signer: keySigner('cert'), witnesses: [] });
    const bundle = bundleToJSON(await builder.create({ data: simple }));
    const request: StoreRequest = {
      run,
      artifact: { type: 'image-signature', shortKey: '0123456789ab', subjects: [{ name: 'registry.example/app', digest: { sha256: '0123' } }] },
      payload: simple,
      bundle,
    };
    const annotations = annotationsForStorage(request);
    expect(annotations['chains.tekton.dev/payload-0123456789ab']).toBe(simple.toString('base64'));
    expect(annotations['chains.tekton.dev/signature-0123456789ab']).toBe(bundle.messageSignature!.signature);
    expect(b64decode(annotations['chains.tekton.dev/cert-0123456789ab'])).toBe(certPem);
    // The simple-signing bundle carries a chain of one: nothing beyond the leaf.
    expect(annotations['chains.tekton.dev/chain-0123456789ab']).toBe('');
  });

  it('chain holds every certificate after the leaf, as PEMs', async () => {
    const bundle = await dsseBundle('key');
    const der = Buffer.from(certPem.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64').toString('base64');
    const withChain: SerializedBundle = {
      ...bundle,
      verificationMaterial: {
        x509CertificateChain: { certificates: [{ rawBytes: der }, { rawBytes: der }, { rawBytes: der }] },
        publicKey: undefined,
        certificate: undefined,
        tlogEntries: [],
        timestampVerificationData: undefined,
      },
    };
    const annotations = annotationsForStorage(provenanceRequest(withChain));
    expect(b64decode(annotations[`chains.tekton.dev/chain-${shortKey}`])).toBe(certPem + certPem);
  });
});

describe('tekton storage backend', () => {
  it('patches the run with the annotations, and is idempotent', async () => {
    const patches: { run: RunKey; annotations: Record<string, string> }[] = [];
    const live: Record<string, string> = { 'tekton.dev/pipeline': 'p' };
    const storage = createTektonStorage({
      patchAnnotations: async (r, annotations) => {
        patches.push({ run: r, annotations });
        Object.assign(live, annotations);
      },
      getObjectSize: async () => ({ annotations: { ...live } }),
      logger: createSilentLogger(),
    });
    const request = provenanceRequest(await dsseBundle('key'));
    const first = await storage.store(request);
    const afterFirst = { ...live };
    const second = await storage.store(request);
    expect(first.backend).toBe('tekton');
    expect(first.locations).toHaveLength(4);
    expect(second).toEqual(first);
    expect(patches).toHaveLength(2);
    expect(patches[0]!.run).toEqual(run);
    expect(patches[1]!.annotations).toEqual(patches[0]!.annotations);
    expect(live).toEqual(afterFirst);
  });

  it('refuses with TEKTON_ANNOTATIONS_TOO_LARGE before patching when the payload alone is too big', async () => {
    let patched = 0;
    const storage = createTektonStorage({ patchAnnotations: async () => void patched++, logger: createSilentLogger() });
    const big = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', pad: 'x'.repeat(120 * 1024) }));
    const err: unknown = await storage.store(provenanceRequest(await dsseBundle('key', big), big)).catch((e: unknown) => e);
    expect(isProvenantError(err, 'TEKTON_ANNOTATIONS_TOO_LARGE')).toBe(true);
    expect((err as { kind: string }).kind).toBe('permanent');
    expect(patched).toBe(0);
  });

  it('counts the run\'s existing annotations, but not the keys it overwrites', async () => {
    const request = provenanceRequest(await dsseBundle('key'));
    const ours = annotationsForStorage(request);
    const ourSize = annotationsSize(ours);
    const max = ourSize + 100;
    const tooMuch = { other: 'y'.repeat(200) };
    const refused = createTektonStorage({
      patchAnnotations: async () => undefined,
      getObjectSize: async () => ({ annotations: tooMuch }),
      maxAnnotationBytes: max,
      logger: createSilentLogger(),
    });
    expect(isProvenantError(await refused.store(request).catch((e: unknown) => e), 'TEKTON_ANNOTATIONS_TOO_LARGE')).toBe(true);
    // A retry after a partial success: our own keys are already there and are replaced, not added.
    const retry = createTektonStorage({
      patchAnnotations: async () => undefined,
      getObjectSize: async () => ({ annotations: { ...ours, small: 'z' } }),
      maxAnnotationBytes: max,
      logger: createSilentLogger(),
    });
    await expect(retry.store(request)).resolves.toMatchObject({ backend: 'tekton' });
  });

  it('keeps a margin under the Kubernetes 256 KiB limit', () => {
    expect(kubernetesAnnotationsLimitBytes).toBe(262144);
    expect(defaultMaxAnnotationBytes).toBeLessThan(kubernetesAnnotationsLimitBytes);
    expect(kubernetesAnnotationsLimitBytes - defaultMaxAnnotationBytes).toBeGreaterThanOrEqual(16 * 1024);
  });

  it('propagates the patch function\'s error unchanged (the RunStore classifies it)', async () => {
    const boom = new Error('conflict');
    const storage = createTektonStorage({ patchAnnotations: async () => Promise.reject(boom), logger: createSilentLogger() });
    await expect(storage.store(provenanceRequest(await dsseBundle('key')))).rejects.toBe(boom);
  });

  it('rejects a bundle with no content as TEKTON_BUNDLE_INVALID', async () => {
    const bundle = await dsseBundle('key');
    const { dsseEnvelope: _drop, ...empty } = bundle;
    const storage = createTektonStorage({ patchAnnotations: async () => undefined, logger: createSilentLogger() });
    const err: unknown = await storage.store(provenanceRequest(empty as SerializedBundle)).catch((e: unknown) => e);
    expect(isProvenantError(err, 'TEKTON_BUNDLE_INVALID')).toBe(true);
  });
});
