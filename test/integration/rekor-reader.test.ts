/**
 * The transparency reader against the Rekor v1 stand-in over real HTTP: entries uploaded by provenant's
 * own witness (dsse, intoto 0.0.2, hashedrekord) are found by subject digest, decoded and verified
 * (SET, inclusion proof, signed checkpoint); a tampered proof and an untrusted log key are rejected
 * with typed codes.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { FulcioSigner, type Signer } from '@sigstore/sign';
import { startSigstoreMock } from '../support/sigstore-mock.js';
import { startRekor, type RunningRekor } from '../support/start-rekor.js';
import { createRekorReader, createTransparencyWitness, createTransparentBundler, tlogEntryOf, type RekorReader } from '../../src/transparency/index.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { isProvenantError } from '../../src/errors.js';

let rekor: RunningRekor;
let reader: RekorReader;
let privateKey: KeyObject;
let publicPem: string;
const subject = createHash('sha256').update('image').digest('hex');

const signer: Signer = {
  sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: publicPem, hint: 'k' } }),
};

function statement(run: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v0.2',
      subject: [{ name: 'registry.local/app', digest: { sha256: subject } }],
      predicate: { buildType: 'tekton.dev/v1/TaskRun', run },
    }),
  );
}

async function logWith(entryType: 'dsse' | 'intoto', data: Buffer, kind: 'dsse' | 'message-signature' = 'dsse') {
  const bundler = createTransparentBundler({
    signer,
    // transparency.entry-type picks the witness; message signatures stay hashedrekord whatever it says.
    witnesses: [createTransparencyWitness({ transparency: { url: rekor.url, entryType, version: 'v1' }, logger: createSilentLogger() })],
    logger: createSilentLogger(),
  });
  return bundler.create({ kind, data });
}

async function rejection(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return isProvenantError(err) ? err.code : `not a ProvenantError: ${String(err)}`;
  }
}

beforeAll(async () => {
  rekor = await startRekor();
  // Throwaway test-only key.
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  privateKey = pair.privateKey;
  publicPem = pair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  reader = createRekorReader({ baseUrl: rekor.url, trustedRoot: rekor.trustedRoot });
});

afterAll(async () => {
  await rekor.stop();
});

describe('Rekor reader (search by digest, verified entries)', () => {
  it('finds the dsse and intoto entries by subject digest; intoto keeps the envelope and statement', async () => {
    await logWith('dsse', statement('dsse'));
    await logWith('intoto', statement('intoto'));
    const image = Buffer.from('simple signing payload');
    await logWith('intoto', image, 'message-signature');

    const found = await reader.searchByDigest(`sha256:${subject}`);
    expect(found.map((e) => e.kind).sort()).toEqual(['dsse', 'intoto']);
    for (const e of found) {
      expect(e.verification).toEqual({ set: true, inclusionProof: true, checkpoint: true });
      expect(e.verifiers[0]?.type).toBe('publicKey');
      expect(e.verifiers[0]?.pem.replace(/\s/g, '')).toBe(publicPem.replace(/\s/g, ''));
    }
    const intoto = found.find((e) => e.kind === 'intoto')!;
    expect(intoto.apiVersion).toBe('0.0.2');
    expect(intoto.envelope?.payloadType).toBe('application/vnd.in-toto+json');
    expect((intoto.statement?.['predicate'] as { run?: string }).run).toBe('intoto');
    expect(intoto.digests).toContain(`sha256:${subject}`);
    const dsse = found.find((e) => e.kind === 'dsse')!;
    expect(dsse.envelope).toBeUndefined();
    expect(dsse.statement).toBeUndefined();

    // hashedrekord: found by the signed payload's digest.
    const [sig] = await reader.searchByDigest(createHash('sha256').update(image).digest('hex'));
    expect(sig?.kind).toBe('hashedrekord');
    expect(sig?.signature?.digest).toBe(`sha256:${createHash('sha256').update(image).digest('hex')}`);

    // By UUID (64 and 80 hex) and by log index, same entry.
    expect((await reader.getEntry(intoto.uuid)).logIndex).toBe(intoto.logIndex);
    expect((await reader.getEntry(intoto.entryId)).uuid).toBe(intoto.uuid);
    expect((await reader.getEntry(intoto.logIndex)).uuid).toBe(intoto.uuid);
    expect(await reader.searchByDigest(`sha256:${'0'.repeat(64)}`)).toEqual([]);
  });

  it('each entry type is uploaded once under retries: a re-upload gets 409 and the same entry', async () => {
    for (const entryType of ['dsse', 'intoto'] as const) {
      const before = rekor.log.entryCount();
      const bundler = createTransparentBundler({ signer, witnesses: [], logger: createSilentLogger() });
      const signed = await bundler.create({ kind: 'dsse', data: statement(`retry-${entryType}`) });
      const witness = createTransparencyWitness({ transparency: { url: rekor.url, entryType, version: 'v1' }, logger: createSilentLogger() });
      const { bundleFromJSON } = await import('@sigstore/bundle');
      const content = bundleFromJSON(signed).content;
      const first = await witness.testify(content, publicPem);
      const second = await witness.testify(content, publicPem); // Rekor answers 409; the witness fetches the entry
      expect(second.tlogEntries?.[0]?.logIndex).toBe(first.tlogEntries?.[0]?.logIndex);
      expect(rekor.log.entryCount()).toBe(before + 1);
    }
  });

  it('rejects a tampered inclusion proof, an untrusted log key, a bad digest and an unknown entry with typed codes', async () => {
    const bundle = await logWith('dsse', statement('tamper'));
    const logIndex = tlogEntryOf(bundle)!.logIndex;

    rekor.log.tamperInclusionProofs(true);
    try {
      expect(await rejection(reader.getEntry(logIndex))).toBe('TLOG_INCLUSION_PROOF_INVALID');
      expect(await rejection(reader.searchByDigest(`sha256:${subject}`))).toBe('TLOG_INCLUSION_PROOF_INVALID');
    } finally {
      rekor.log.tamperInclusionProofs(false);
    }

    // A trusted root naming another key: the log ID is unknown.
    const otherSpki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const tlog = (rekor.trustedRoot['tlogs'] as Record<string, unknown>[])[0]!;
    const wrongKey = { ...rekor.trustedRoot, tlogs: [{ ...tlog, publicKey: { ...(tlog['publicKey'] as object), rawBytes: otherSpki.toString('base64') }, logId: { keyId: createHash('sha256').update(otherSpki).digest('base64') } }] };
    expect(await rejection(createRekorReader({ baseUrl: rekor.url, trustedRoot: wrongKey }).getEntry(logIndex))).toBe('TLOG_LOG_KEY_UNKNOWN');
    // The right log ID with the wrong key: the SET does not verify.
    const sameIdWrongKey = { ...rekor.trustedRoot, tlogs: [{ ...tlog, publicKey: { ...(tlog['publicKey'] as object), rawBytes: otherSpki.toString('base64') } }] };
    expect(await rejection(createRekorReader({ baseUrl: rekor.url, trustedRoot: sameIdWrongKey }).getEntry(logIndex))).toBe('TLOG_SET_INVALID');

    expect(await rejection(reader.searchByDigest('md5:abc'))).toBe('TLOG_DIGEST_INVALID');
    expect(await rejection(reader.getEntry('f'.repeat(64)))).toBe('TLOG_ENTRY_NOT_FOUND');
    expect(await rejection(createRekorReader({ baseUrl: 'http://127.0.0.1:9', trustedRoot: rekor.trustedRoot }).getEntry(0))).toBe('TLOG_UNAVAILABLE');
  });
});

describe('Rekor reader, keyless entries (mock Fulcio + the stand-in behind sigstore-mock)', () => {
  it('decodes the certificate identity (SAN, issuer) of an intoto entry and finds it by subject', async () => {
    const mock = await startSigstoreMock();
    try {
      const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      // Unsigned test token: the mock Fulcio does not check JWT signatures.
      const token = `${b64url({ alg: 'none' })}.${b64url({ iss: 'https://issuer.example', sub: 'builder@example.com', email: 'builder@example.com', email_verified: true, aud: 'sigstore', iat: now, exp: now + 600 })}.`;
      const fulcio = new FulcioSigner({ identityProvider: { getToken: async () => token }, fulcioBaseURL: mock.fulcioUrl });
      const bundler = createTransparentBundler({
        signer: fulcio,
        witnesses: [createTransparencyWitness({ transparency: { url: mock.rekorUrl, entryType: 'intoto', version: 'v1' }, logger: createSilentLogger() })],
        logger: createSilentLogger(),
      });
      await bundler.create({ kind: 'dsse', data: statement('keyless') });
      const [entry] = await createRekorReader({ baseUrl: mock.rekorUrl, trustedRoot: mock.trustedRoot }).searchByDigest(`sha256:${subject}`);
      expect(entry?.kind).toBe('intoto');
      expect(entry?.logIndex).toBeGreaterThanOrEqual(1000); // virtual index on a sharded log; proofs use the leaf index
      expect(entry?.verifiers[0]).toMatchObject({ type: 'certificate', san: 'builder@example.com', issuer: 'https://issuer.example' });
      expect((entry?.statement?.['predicate'] as { run?: string }).run).toBe('keyless');
    } finally {
      await mock.stop();
    }
  });
});
