/**
 * `provenant verify --bundle --require-tlog` proves inclusion: a bundle logged in the Rekor stand-in
 * verifies (its proof is checked); a tampered inclusion proof and a trusted root with another log key
 * are rejected with typed codes; a bundle carrying only a SET gets its proof from the log.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import type { Signer } from '@sigstore/sign';
import { startRekor, type RunningRekor } from '../support/start-rekor.js';
import { runCaptured } from '../support/cli.js';
import { createRekorWitness, createTransparentBundler } from '../../src/transparency/index.js';
import { createSilentLogger } from '../../src/observability/logger.js';

let rekor: RunningRekor;
let dir: string;
let bundle: SerializedBundle;

function file(name: string): string {
  return path.join(dir, name);
}

async function verify(b: unknown, root: unknown = rekor.trustedRoot): Promise<{ code: number; err: string }> {
  await writeFile(file('b.json'), JSON.stringify(b));
  await writeFile(file('root.json'), JSON.stringify(root));
  return runCaptured(['verify', '--bundle', file('b.json'), '--key', file('key.pub'), '--trusted-root', file('root.json'), '--require-tlog']);
}

beforeAll(async () => {
  rekor = await startRekor();
  dir = await mkdtemp(path.join(tmpdir(), 'verify-tlog-'));
  // Throwaway test-only key.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  await writeFile(file('key.pub'), publicPem);
  const signer: Signer = { sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: publicPem, hint: 'k' } }) };
  const bundler = createTransparentBundler({ signer, witnesses: [createRekorWitness({ url: rekor.url, logger: createSilentLogger() })], logger: createSilentLogger() });
  // A few entries first so the proof has hashes to tamper with.
  for (const n of [1, 2, 3]) await bundler.create({ kind: 'dsse', data: Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], n })) });
  bundle = await bundler.create({ kind: 'dsse', data: Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], n: 4 })) });
});

afterAll(async () => {
  await rekor.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('verify --require-tlog checks the inclusion proof', () => {
  it('accepts the logged bundle and its proof', async () => {
    const ok = await verify(bundle);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
  });

  it('rejects a tampered inclusion proof with TLOG_INCLUSION_PROOF_INVALID', async () => {
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    const proof = entry.inclusionProof!;
    const hashes = [...proof.hashes];
    hashes[0] = createHash('sha256').update('forged').digest('base64');
    const tampered = { ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [{ ...entry, inclusionProof: { ...proof, hashes } }] } };
    const r = await verify(tampered);
    expect(r.code).toBe(1);
    expect(r.err).toContain('TLOG_INCLUSION_PROOF_INVALID');
  });

  it('rejects an entry from a log whose key is not in the trusted root with TLOG_LOG_KEY_UNKNOWN', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const tlog = (rekor.trustedRoot['tlogs'] as Record<string, unknown>[])[0]!;
    const root = {
      ...rekor.trustedRoot,
      tlogs: [{ ...tlog, publicKey: { ...(tlog['publicKey'] as object), rawBytes: other.toString('base64') }, logId: { keyId: createHash('sha256').update(other).digest('base64') } }],
    };
    const r = await verify(bundle, root);
    expect(r.code).toBe(1);
    expect(r.err).toContain('TLOG_LOG_KEY_UNKNOWN');
  });

  it('fetches the proof from the log for a bundle that carries only the SET', async () => {
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    const { inclusionProof: _dropped, ...setOnly } = entry;
    const r = await verify({ ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [setOnly] } });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    rekor.log.tamperInclusionProofs(true);
    try {
      const bad = await verify({ ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [setOnly] } });
      expect(bad.code).toBe(1);
      expect(bad.err).toContain('TLOG_INCLUSION_PROOF_INVALID');
    } finally {
      rekor.log.tamperInclusionProofs(false);
    }
  });
});
