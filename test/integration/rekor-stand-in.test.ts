/**
 * The Rekor v1 stand-in against the real rekor-cli 1.3.9 (Debian): upload (hashedrekord, dsse,
 * intoto 0.0.2), search by digest and by key, get (uuid, log index, JSON), verify (inclusion proof,
 * checkpoint, SET) and loginfo (consistency proof between two tree heads). Nothing here is provenant's
 * own client: it proves the stand-in speaks Rekor, so the reader tests against it mean something.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { debianTool } from '../support/debian-tools.js';
import { startRekor, type RunningRekor } from '../support/start-rekor.js';

const run = promisify(execFile);
let rekor: RunningRekor;
let dir: string;
let privateKey: KeyObject;
let pubPath: string;

async function rekorCli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(debianTool('rekor-cli'), [...args, '--rekor_server', rekor.url], { env: { HOME: dir, PATH: process.env.PATH ?? '' }, timeout: 20_000 });
}

function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
}

const subjectDigest = createHash('sha256').update('image-bytes').digest('hex');
const materialDigest = createHash('sha256').update('base-image').digest('hex');

function envelope(run: string): { json: string; payload: Buffer } {
  const payload = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v0.2',
      subject: [{ name: 'registry.local/app', digest: { sha256: subjectDigest } }],
      predicate: { builder: { id: 'https://tekton.dev/chains/v2' }, materials: [{ uri: 'oci://base', digest: { sha256: materialDigest } }], run },
    }),
  );
  const type = 'application/vnd.in-toto+json';
  const sig = nodeSign('sha256', pae(type, payload), privateKey).toString('base64');
  return { json: JSON.stringify({ payloadType: type, payload: payload.toString('base64'), signatures: [{ keyid: '', sig }] }), payload };
}

beforeAll(async () => {
  rekor = await startRekor();
  dir = await mkdtemp(path.join(tmpdir(), 'rekor-cli-'));
  // Throwaway test-only key.
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  privateKey = pair.privateKey;
  pubPath = path.join(dir, 'pub.pem');
  await writeFile(pubPath, pair.publicKey.export({ format: 'pem', type: 'spki' }));
});

afterAll(async () => {
  await rekor.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Rekor v1 stand-in, read and written by the real rekor-cli 1.3.9', () => {
  it('hashedrekord: upload (then 409 on re-upload), search by sha and key, get by uuid and index, verify', async () => {
    const artifact = Buffer.from('release tarball');
    const digest = createHash('sha256').update(artifact).digest('hex');
    await writeFile(path.join(dir, 'a.sig'), nodeSign('sha256', artifact, privateKey));
    const upload = ['upload', '--type', 'hashedrekord', '--artifact-hash', `sha256:${digest}`, '--signature', path.join(dir, 'a.sig'), '--public-key', pubPath, '--pki-format', 'x509'];
    const first = await rekorCli(...upload);
    expect(first.stdout).toMatch(/Created entry at index \d+/);
    const again = await rekorCli(...upload);
    expect(again.stdout).toMatch(/Entry already exists/);

    const bySha = JSON.parse((await rekorCli('search', '--sha', digest, '--format', 'json')).stdout) as { UUIDs: string[] };
    expect(bySha.UUIDs).toHaveLength(1);
    const id = bySha.UUIDs[0] as string;
    expect(id).toMatch(/^[0-9a-f]{80}$/);
    const byKey = JSON.parse((await rekorCli('search', '--public-key', pubPath, '--pki-format', 'x509', '--format', 'json')).stdout) as { UUIDs: string[] };
    expect(byKey.UUIDs).toContain(id);

    const got = JSON.parse((await rekorCli('get', '--uuid', id, '--format', 'json')).stdout) as { UUID: string; LogIndex: number; LogID: string; Body: { HashedRekordObj: { data: { hash: { value: string } } } } };
    expect(got.UUID).toBe(id);
    expect(got.LogID).toBe(rekor.log.logId);
    expect(got.Body.HashedRekordObj.data.hash.value).toBe(digest);
    await rekorCli('get', '--log-index', String(got.LogIndex), '--format', 'json');
    // The 64-hex UUID alone works too, as on rekor.sigstore.dev.
    const verified = await rekorCli('verify', '--uuid', id.slice(16));
    expect(verified.stdout).toMatch(/Computed Root Hash: ([0-9a-f]{64})\nExpected Root Hash: \1/);
  });

  it('dsse and intoto 0.0.2: rekor-cli uploads the envelope, finds it by subject and material digest, gets the attestation back', async () => {
    const loginfo = async (): Promise<string> => (await rekorCli('loginfo', '--format', 'json')).stdout;
    await loginfo(); // stores the tree head so the next loginfo proves consistency

    const dsse = envelope('dsse');
    await writeFile(path.join(dir, 'dsse.json'), dsse.json);
    const up = await rekorCli('upload', '--type', 'dsse', '--artifact', path.join(dir, 'dsse.json'), '--public-key', pubPath);
    expect(up.stdout).toMatch(/Created entry/);

    const intoto = envelope('intoto');
    await writeFile(path.join(dir, 'intoto.json'), intoto.json);
    const up2 = await rekorCli('upload', '--type', 'intoto:0.0.2', '--artifact', path.join(dir, 'intoto.json'), '--public-key', pubPath);
    expect(up2.stdout).toMatch(/Created entry/);

    const bySubject = JSON.parse((await rekorCli('search', '--sha', `sha256:${subjectDigest}`, '--format', 'json')).stdout) as { UUIDs: string[] };
    expect(bySubject.UUIDs).toHaveLength(2);
    const byMaterial = JSON.parse((await rekorCli('search', '--sha', materialDigest, '--format', 'json')).stdout) as { UUIDs: string[] };
    expect(byMaterial.UUIDs.sort()).toEqual(bySubject.UUIDs.sort());
    const envelopeDigest = createHash('sha256').update(dsse.json).digest('hex');
    const byEnvelope = JSON.parse((await rekorCli('search', '--sha', envelopeDigest, '--format', 'json')).stdout) as { UUIDs: string[] };
    expect(byEnvelope.UUIDs).toHaveLength(1);

    const kinds: string[] = [];
    for (const id of bySubject.UUIDs) {
      const got = JSON.parse((await rekorCli('get', '--uuid', id, '--format', 'json')).stdout) as { Attestation: string; Body: Record<string, unknown> };
      if ('IntotoObj' in got.Body) {
        kinds.push('intoto');
        // Rekor keeps the statement of an intoto entry and returns it with the entry.
        expect(Buffer.from(got.Attestation, 'base64').equals(intoto.payload) || got.Attestation === intoto.payload.toString()).toBe(true);
      } else {
        kinds.push('dsse');
        expect(got.Attestation).toBe('');
      }
      await rekorCli('verify', '--uuid', id);
    }
    expect(kinds.sort()).toEqual(['dsse', 'intoto']);

    // A second loginfo proves the new tree head consistent with the stored one (GET /api/v1/log/proof).
    const info = JSON.parse(await loginfo()) as { ActiveTreeSize: number; RootHash: string };
    expect(info.ActiveTreeSize).toBe(rekor.log.entryCount());
  });

  it('refuses a DSSE envelope signed with P-384 over SHA-384, as Rekor (LoadVerifier(key, SHA256)) and rekor-cli do', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1","subject":[]}');
    const type = 'application/vnd.in-toto+json';
    const env = (hash: string): string =>
      JSON.stringify({ payloadType: type, payload: payload.toString('base64'), signatures: [{ keyid: '', sig: nodeSign(hash, pae(type, payload), p384.privateKey).toString('base64') }] });
    const pem = p384.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const post = async (envelope: string): Promise<number> =>
      (
        await fetch(`${rekor.url}/api/v1/log/entries`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope, verifiers: [Buffer.from(pem).toString('base64')] } } }),
        })
      ).status;
    expect(await post(env('sha384'))).toBe(400);
    expect(await post(env('sha256'))).toBe(201);
    // rekor-cli verifies the envelope before sending it, with the same verifier.
    await writeFile(path.join(dir, 'p384.pem'), pem);
    await writeFile(path.join(dir, 'p384.json'), env('sha384'));
    await expect(rekorCli('upload', '--type', 'dsse', '--artifact', path.join(dir, 'p384.json'), '--public-key', path.join(dir, 'p384.pem'))).rejects.toThrow();
  });
});
