/**
 * "No run ever produces two Rekor entries", at the transparency level: sign once, checkpoint, log,
 * and retry from the checkpoint after storage / Rekor failures, against a real HTTP mock Rekor.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { generateKeyPairSync, sign as nodeSign, createHash, type KeyObject } from 'node:crypto';
import { bundleFromJSON, type SerializedBundle } from '@sigstore/bundle';
import { FulcioSigner, type Signer, type Witness } from '@sigstore/sign';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { freePort } from '../support/services.js';
import {
  createRekorWitness,
  createTransparentBundler,
  envelopeJsonOf,
  tlogEntryOf,
  transparencyAnnotationValue,
  type TransparencyCheckpoint,
} from '../../src/transparency/index.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { ProvenantError, isProvenantError } from '../../src/errors.js';

let mock: SigstoreMock;
let privateKey: KeyObject;
let publicKey: KeyObject;
let publicPem: string;
const keyHint = 'provenant-test-key';

beforeAll(async () => {
  mock = await startSigstoreMock();
  // Throwaway test-only key.
  ({ privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
});

afterAll(async () => {
  await mock.stop();
});

/** A key signer that counts its calls. */
function countingSigner(): Signer & { calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    sign: async (data: Buffer) => {
      calls += 1;
      return { signature: nodeSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: publicPem, hint: keyHint } };
    },
  };
}

function verify(bundle: SerializedBundle, artifact?: Buffer): void {
  const root = TrustedRoot.fromJSON(mock.trustedRoot);
  const trust = toTrustMaterial(root, {
    [keyHint]: {
      rawBytes: publicKey.export({ type: 'spki', format: 'der' }),
      keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
      validFor: { start: new Date(Date.now() - 3_600_000) },
    },
  });
  const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundleFromJSON(bundle), artifact));
}

/** A job's data, the way reconcile keeps it between attempts. */
interface Job {
  checkpoint: TransparencyCheckpoint | undefined;
  saves: number;
}

/** One reconcile attempt: sign+log (resuming from the checkpoint), then store. */
async function attempt(job: Job, signer: Signer, store: (bundle: SerializedBundle) => Promise<void>, witnesses?: Witness[]): Promise<SerializedBundle> {
  const bundler = createTransparentBundler({
    signer,
    witnesses: witnesses ?? [createRekorWitness({ url: mock.rekorUrl, logger: createSilentLogger() })],
    logger: createSilentLogger(),
  });
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', run: 'r1', at: job.saves }));
  const bundle = await bundler.create(
    { kind: 'dsse', data: job.checkpoint === undefined ? statement : Buffer.alloc(0) },
    {
      checkpoint: job.checkpoint,
      save: async (cp) => {
        job.checkpoint = cp;
        job.saves += 1;
      },
    },
  );
  await store(bundle);
  return bundle;
}

async function runWithRetries(job: Job, signer: Signer, store: (bundle: SerializedBundle) => Promise<void>, max = 5): Promise<{ bundle: SerializedBundle; errors: unknown[] }> {
  const errors: unknown[] = [];
  for (let i = 0; i < max; i++) {
    try {
      return { bundle: await attempt(job, signer, store), errors };
    } catch (err) {
      errors.push(err);
    }
  }
  throw new Error(`still failing after ${max} attempts`);
}

describe('transparency: exactly one Rekor entry per run', () => {
  let before: number;
  beforeEach(() => {
    before = mock.rekorEntryCount();
  });

  it('signs and logs once; the bundle carries the entry and verifies', async () => {
    const signer = countingSigner();
    const job: Job = { checkpoint: undefined, saves: 0 };
    const bundle = await attempt(job, signer, async () => undefined);
    expect(mock.rekorEntryCount() - before).toBe(1);
    expect(signer.calls()).toBe(1);
    const entry = tlogEntryOf(bundle);
    expect(entry).toBeDefined();
    expect(entry!.logIndex).toBeGreaterThanOrEqual(0);
    expect(entry!.logId).toMatch(/^[0-9a-f]{64}$/);
    expect(bundle.verificationMaterial.tlogEntries[0]!.inclusionPromise?.signedEntryTimestamp).toBeTruthy();
    verify(bundle);
    // The annotation value points at the entry, and the mock serves it there.
    const annotation = transparencyAnnotationValue(mock.rekorUrl, entry!.logIndex);
    const res = await fetch(annotation);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, { logIndex: number; body: string }>;
    const logged = Object.values(body)[0]!;
    expect(logged.logIndex).toBe(entry!.logIndex);
    // Rekor's envelopeHash is over exactly the bytes envelopeJsonOf returns.
    const canonical = JSON.parse(Buffer.from(logged.body, 'base64').toString()) as { spec: { envelopeHash: { value: string } } };
    expect(canonical.spec.envelopeHash.value).toBe(createHash('sha256').update(envelopeJsonOf(bundle)!).digest('hex'));
  });

  it('a storage failure after logging: the retry re-uses the checkpoint (no new signature, no new entry)', async () => {
    const signer = countingSigner();
    const job: Job = { checkpoint: undefined, saves: 0 };
    let storeCalls = 0;
    const stored: SerializedBundle[] = [];
    const flakyStore = async (bundle: SerializedBundle): Promise<void> => {
      storeCalls += 1;
      if (storeCalls <= 2) throw new ProvenantError('transient', 'OCI_UNAVAILABLE', 'registry down');
      stored.push(bundle);
    };
    const { bundle, errors } = await runWithRetries(job, signer, flakyStore);
    expect(errors.map((e) => (e as ProvenantError).code)).toEqual(['OCI_UNAVAILABLE', 'OCI_UNAVAILABLE']);
    expect(signer.calls()).toBe(1);
    expect(mock.rekorEntryCount() - before).toBe(1);
    expect(stored).toEqual([bundle]);
    expect(bundle).toEqual(job.checkpoint!.bundle);
    verify(bundle);
  });

  it('a forced 409 fetches the existing entry: still one entry and a verifying bundle', async () => {
    mock.failNextRekor(409);
    const signer = countingSigner();
    const job: Job = { checkpoint: undefined, saves: 0 };
    const bundle = await attempt(job, signer, async () => undefined);
    expect(mock.rekorEntryCount() - before).toBe(1);
    expect(tlogEntryOf(bundle)).toBeDefined();
    verify(bundle);
  });

  it('a lost Rekor response: the retry re-sends the same envelope, gets 409, and re-uses that entry', async () => {
    const signer = countingSigner();
    const job: Job = { checkpoint: undefined, saves: 0 };
    const real = createRekorWitness({ url: mock.rekorUrl, logger: createSilentLogger() });
    // The upload lands in Rekor but the answer never arrives.
    const losing: Witness = {
      testify: async (content, key) => {
        await real.testify(content, key);
        throw new ProvenantError('transient', 'REKOR_UNAVAILABLE', 'socket hang up');
      },
    };
    const first: unknown = await attempt(job, signer, async () => undefined, [losing]).catch((e: unknown) => e);
    expect(isProvenantError(first, 'REKOR_UNAVAILABLE')).toBe(true);
    expect(mock.rekorEntryCount() - before).toBe(1);
    expect(job.checkpoint?.witnessed).toBe(false);
    const bundle = await attempt(job, signer, async () => undefined);
    expect(signer.calls()).toBe(1);
    expect(mock.rekorEntryCount() - before).toBe(1);
    verify(bundle);
  });

  it('a forced 5xx is a transient REKOR_UNAVAILABLE; the retry succeeds with one entry and one signature', async () => {
    mock.failNextRekor(503, 2);
    const signer = countingSigner();
    const job: Job = { checkpoint: undefined, saves: 0 };
    const { bundle, errors } = await runWithRetries(job, signer, async () => undefined);
    expect(errors).toHaveLength(2);
    for (const err of errors) {
      expect(isProvenantError(err, 'REKOR_UNAVAILABLE')).toBe(true);
      expect((err as ProvenantError).kind).toBe('transient');
    }
    expect(signer.calls()).toBe(1);
    expect(mock.rekorEntryCount() - before).toBe(1);
    verify(bundle);
  });

  it('a 4xx other than 409 is a permanent REKOR_REJECTED', async () => {
    mock.failNextRekor(400);
    const job: Job = { checkpoint: undefined, saves: 0 };
    const err: unknown = await attempt(job, countingSigner(), async () => undefined).catch((e: unknown) => e);
    expect(isProvenantError(err, 'REKOR_REJECTED')).toBe(true);
    expect((err as ProvenantError).kind).toBe('permanent');
    expect(mock.rekorEntryCount() - before).toBe(0);
  });

  it('429 is transient, not a rejection', async () => {
    mock.failNextRekor(429);
    const job: Job = { checkpoint: undefined, saves: 0 };
    const err: unknown = await attempt(job, countingSigner(), async () => undefined).catch((e: unknown) => e);
    expect(isProvenantError(err, 'REKOR_UNAVAILABLE')).toBe(true);
  });

  it('an unreachable Rekor is a transient REKOR_UNAVAILABLE', async () => {
    const port = await freePort();
    const witness = createRekorWitness({ url: `http://127.0.0.1:${port}`, logger: createSilentLogger(), timeoutMs: 2_000 });
    const job: Job = { checkpoint: undefined, saves: 0 };
    const err: unknown = await attempt(job, countingSigner(), async () => undefined, [witness]).catch((e: unknown) => e);
    expect(isProvenantError(err, 'REKOR_UNAVAILABLE')).toBe(true);
    expect((err as ProvenantError).kind).toBe('transient');
  });

  it('image signatures (message signature bundles) are logged once as hashedrekord and verify', async () => {
    const signer = countingSigner();
    const bundler = createTransparentBundler({
      signer,
      witnesses: [createRekorWitness({ url: mock.rekorUrl, logger: createSilentLogger() })],
      logger: createSilentLogger(),
    });
    const simple = Buffer.from('{"critical":{"identity":{"docker-reference":"registry.example/app"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":null}');
    let checkpoint: TransparencyCheckpoint | undefined;
    const bundle = await bundler.create({ kind: 'message-signature', data: simple }, { save: async (cp) => void (checkpoint = cp) });
    const again = await bundler.create({ kind: 'message-signature', data: simple }, { checkpoint });
    expect(again).toEqual(bundle);
    expect(signer.calls()).toBe(1);
    expect(mock.rekorEntryCount() - before).toBe(1);
    expect(bundle.verificationMaterial.tlogEntries[0]!.kindVersion?.kind).toBe('hashedrekord');
    verify(bundle, simple);
  });

  it('with no witnesses (upload off) it signs once and never calls Rekor', async () => {
    const signer = countingSigner();
    const job: Job = { checkpoint: undefined, saves: 0 };
    const bundle = await attempt(job, signer, async () => undefined, []);
    const again = await attempt(job, signer, async () => undefined, []);
    expect(again).toEqual(bundle);
    expect(signer.calls()).toBe(1);
    expect(tlogEntryOf(bundle)).toBeUndefined();
    expect(mock.rekorEntryCount() - before).toBe(0);
  });

  it('keyless (Fulcio certificate): a retry from the signed-but-unlogged checkpoint logs once and verifies', async () => {
    const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    // Unsigned test token: the mock Fulcio does not check JWT signatures.
    const token = `${b64url({ alg: 'none' })}.${b64url({ iss: 'https://issuer.example', sub: 'builder@example.com', email: 'builder@example.com', email_verified: true, aud: 'sigstore', iat: now, exp: now + 600 })}.`;
    let signs = 0;
    const fulcio = new FulcioSigner({ identityProvider: { getToken: async () => token }, fulcioBaseURL: mock.fulcioUrl });
    const signer: Signer = { sign: async (data) => ((signs += 1), fulcio.sign(data)) };
    const job: Job = { checkpoint: undefined, saves: 0 };
    mock.failNextRekor(502);
    const first: unknown = await attempt(job, signer, async () => undefined).catch((e: unknown) => e);
    expect(isProvenantError(first, 'REKOR_UNAVAILABLE')).toBe(true);
    expect(job.checkpoint?.verifier).toContain('BEGIN CERTIFICATE');
    const bundle = await attempt(job, signer, async () => undefined);
    expect(signs).toBe(1);
    expect(mock.rekorEntryCount() - before).toBe(1);
    const trust = toTrustMaterial(TrustedRoot.fromJSON(mock.trustedRoot));
    const signerIdentity = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(bundle)));
    expect(signerIdentity.identity?.subjectAlternativeName).toBe('builder@example.com');
  });
});
