/**
 * Rekor v2 (rekor-tiles) round trip against the v2 stand-in: `transparency.version: v2` logs a DSSE
 * attestation and an image signature as hashedrekord 0.0.2; the bundle v0.3 carries the inclusion
 * proof and checkpoint (no SET) and verifies with @sigstore/verify and `provenant verify
 * --require-tlog`. A lost response is retried into a 409 and the entry rebuilt from the hash tiles
 * (across a tile boundary): one entry per artifact.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleFromJSON, type SerializedBundle } from '@sigstore/bundle';
import type { Signer } from '@sigstore/sign';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { startRekorV2, type RunningRekorV2 } from '../support/start-rekor.js';
import { runCaptured } from '../support/cli.js';
import { createTransparencyWitness, createTransparentBundler, type TransparencyCheckpoint } from '../../src/transparency/index.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { verifyBundle } from '../../src/verify/index.js';
import { isProvenantError } from '../../src/errors.js';

let rekor: RunningRekorV2;
let dir: string;
let privateKey: KeyObject;
let publicKey: KeyObject;
let publicPem: string;

const signer: Signer = {
  sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: publicPem, hint: 'k' } }),
};

function v2Witness() {
  return createTransparencyWitness({ transparency: { url: rekor.url, entryType: 'dsse', version: 'v2' }, logger: createSilentLogger() });
}

function statement(n: number): Buffer {
  return Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: 'a'.repeat(64) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: { n } }));
}

function sigstoreVerify(bundle: SerializedBundle, artifact?: Buffer): void {
  const trust = toTrustMaterial(TrustedRoot.fromJSON(rekor.trustedRoot), {
    k: { rawBytes: publicKey.export({ type: 'spki', format: 'der' }), keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start: new Date(0) } },
  });
  new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(bundle), artifact));
}

beforeAll(async () => {
  rekor = await startRekorV2();
  dir = await mkdtemp(path.join(tmpdir(), 'rekor-v2-'));
  // Throwaway test-only key.
  ({ privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  await writeFile(path.join(dir, 'key.pub'), publicPem);
  await writeFile(path.join(dir, 'root.json'), JSON.stringify(rekor.trustedRoot));
});

afterAll(async () => {
  await rekor.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Rekor v2 (transparency.version: v2)', () => {
  it('logs a DSSE attestation as hashedrekord 0.0.2; bundle v0.3 with proof and checkpoint verifies (sigstore-js and provenant verify)', async () => {
    const bundler = createTransparentBundler({ signer, witnesses: [v2Witness()], logger: createSilentLogger() });
    const bundle = await bundler.create({ kind: 'dsse', data: statement(0) });
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    expect(entry.kindVersion).toEqual({ kind: 'hashedrekord', version: '0.0.2' });
    expect(entry.inclusionPromise).toBeUndefined();
    expect(entry.inclusionProof?.checkpoint.envelope).toContain(`\u2014 ${rekor.log.origin} `);

    sigstoreVerify(bundle);
    expect(verifyBundle(bundle, { key: publicPem, trustedRoot: rekor.trustedRoot, requireTlog: true }).tlog).toBeDefined();
    await writeFile(path.join(dir, 'b.json'), JSON.stringify(bundle));
    const cli = await runCaptured(['verify', '--bundle', path.join(dir, 'b.json'), '--key', path.join(dir, 'key.pub'), '--trusted-root', path.join(dir, 'root.json'), '--require-tlog']);
    expect(cli.err).toBe('');
    expect(cli.code).toBe(0);

    // Image signatures too.
    const image = Buffer.from('{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}');
    const sig = await bundler.create({ kind: 'message-signature', data: image });
    sigstoreVerify(sig, image);
  });

  it('a lost response is retried into a 409 and the entry is rebuilt from the tiles: one entry, verifiable', async () => {
    // Past one full tile of 256 leaves, so the proof needs a full and a partial tile.
    const warm = createTransparentBundler({ signer, witnesses: [v2Witness()], logger: createSilentLogger() });
    for (let n = 1; rekor.log.entryCount() < 300; n++) await warm.create({ kind: 'message-signature', data: Buffer.from(`artifact ${n}`) });

    const witness = v2Witness(); // a fresh witness, as after a controller restart
    const bundler = createTransparentBundler({ signer, witnesses: [witness], logger: createSilentLogger() });
    let saved: TransparencyCheckpoint | undefined;
    const save = async (c: TransparencyCheckpoint): Promise<void> => {
      saved = c;
    };
    rekor.log.loseNextResponses(1);
    const before = rekor.log.entryCount();
    const first = await bundler.create({ kind: 'dsse', data: statement(1) }, { save }).catch((err: unknown) => err);
    expect(isProvenantError(first, 'REKOR_UNAVAILABLE')).toBe(true);
    expect(rekor.log.entryCount()).toBe(before + 1);
    // The fresh witness does not know the log ID yet: the 409 cannot be rebuilt, the job retries later.
    const second = await bundler.create({ kind: 'dsse', data: statement(1) }, { checkpoint: saved!, save }).catch((err: unknown) => err);
    expect(isProvenantError(second, 'REKOR_UNAVAILABLE')).toBe(true);
    // Any successful upload teaches it the log ID (another run, in a controller).
    await bundler.create({ kind: 'message-signature', data: Buffer.from('another run') });
    const logged = await bundler.create({ kind: 'dsse', data: statement(1) }, { checkpoint: saved!, save });
    expect(rekor.log.entryCount()).toBe(before + 2);
    expect(Number(logged.verificationMaterial.tlogEntries[0]!.logIndex)).toBe(before);
    expect(logged.verificationMaterial.tlogEntries[0]!.inclusionProof!.hashes.length).toBeGreaterThan(0);
    sigstoreVerify(logged);
    expect(verifyBundle(logged, { key: publicPem, trustedRoot: rekor.trustedRoot, requireTlog: true }).tlog?.logIndex).toBe(String(before));
  });

  it('refuses dsse v0.0.2 requests as current rekor-tiles does, and a tampered proof fails verify with TLOG_INCLUSION_PROOF_INVALID', async () => {
    const res = await fetch(`${rekor.url}/api/v2/log/entries`, { method: 'POST', body: JSON.stringify({ dsseRequestV002: {} }) });
    expect(res.status).toBe(400);

    const bundler = createTransparentBundler({ signer, witnesses: [v2Witness()], logger: createSilentLogger() });
    const bundle = await bundler.create({ kind: 'dsse', data: statement(2) });
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    const hashes = [...entry.inclusionProof!.hashes];
    hashes[0] = createHash('sha256').update('x').digest('base64');
    const tampered = { ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [{ ...entry, inclusionProof: { ...entry.inclusionProof!, hashes } }] } };
    await writeFile(path.join(dir, 't.json'), JSON.stringify(tampered));
    const cli = await runCaptured(['verify', '--bundle', path.join(dir, 't.json'), '--key', path.join(dir, 'key.pub'), '--trusted-root', path.join(dir, 'root.json'), '--require-tlog']);
    expect(cli.code).toBe(1);
    expect(cli.err).toContain('TLOG_INCLUSION_PROOF_INVALID');
  });
});
