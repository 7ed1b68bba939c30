/** `provenant rekor search|get` against the Rekor v1 stand-in: verified entries, table and JSON output, typed failures. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Signer } from '@sigstore/sign';
import { startRekor, type RunningRekor } from '../support/start-rekor.js';
import { runCaptured } from '../support/cli.js';
import { createTransparencyWitness, createTransparentBundler } from '../../src/transparency/index.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { imageTaskRun } from '../support/task-run.js';

let rekor: RunningRekor;
let dir: string;
let root: string;
const subject = createHash('sha256').update('the image').digest('hex');

beforeAll(async () => {
  rekor = await startRekor();
  dir = await mkdtemp(path.join(tmpdir(), 'cli-rekor-'));
  root = path.join(dir, 'trusted_root.json');
  await writeFile(root, JSON.stringify(rekor.trustedRoot));
  // Throwaway test-only key.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const signer: Signer = { sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: publicPem, hint: 'k' } }) };
  for (const entryType of ['dsse', 'intoto'] as const) {
    const bundler = createTransparentBundler({
      signer,
      witnesses: [createTransparencyWitness({ transparency: { url: rekor.url, entryType, version: 'v1' }, logger: createSilentLogger() })],
      logger: createSilentLogger(),
    });
    const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: subject } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: { via: entryType } };
    await bundler.create({ kind: 'dsse', data: Buffer.from(JSON.stringify(statement)) });
  }
});

afterAll(async () => {
  await rekor.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('provenant rekor', () => {
  it('search --digest lists the verified entries with type, time and signer', async () => {
    const r = await runCaptured(['rekor', 'search', '--digest', `sha256:${subject}`, '--trusted-root', root]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/^UUID\s+TYPE\s+INDEX\s+INTEGRATED\s+SIGNER$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1]).sort()).toEqual(['dsse:0.0.1', 'intoto:0.0.2']);
    expect(lines[1]).toMatch(/key sha256:[0-9a-f]{64}$/);

    const json = await runCaptured(['rekor', 'search', '--digest', subject, '--trusted-root', root, '--rekor-url', rekor.url, '-o', 'json']);
    const entries = JSON.parse(json.out) as { uuid: string; kind: string; logIndex: number; verification: unknown }[];
    expect(entries).toHaveLength(2);
    expect(entries[0]?.verification).toEqual({ set: true, inclusionProof: true, checkpoint: true });

    const none = await runCaptured(['rekor', 'search', '--digest', `sha256:${'1'.repeat(64)}`, '--trusted-root', root]);
    expect(none.code).toBe(0);
    expect(none.out).toBe('');
  });

  it('get UUID|--log-index prints the decoded entry and the statement an intoto entry keeps', async () => {
    const found = JSON.parse((await runCaptured(['rekor', 'search', '--digest', subject, '--trusted-root', root, '-o', 'json'])).out) as { uuid: string; kind: string; logIndex: number }[];
    const intoto = found.find((e) => e.kind === 'intoto')!;
    const byUuid = await runCaptured(['rekor', 'get', intoto.uuid, '--trusted-root', root]);
    expect(byUuid.code).toBe(0);
    expect(byUuid.out).toContain('Type:        intoto 0.0.2');
    expect(byUuid.out).toContain('"via": "intoto"');
    const byIndex = JSON.parse((await runCaptured(['rekor', 'get', '--log-index', String(intoto.logIndex), '--trusted-root', root, '-o', 'json'])).out) as { uuid: string; statement: { predicate: { via: string } } };
    expect(byIndex.uuid).toBe(intoto.uuid);
    expect(byIndex.statement.predicate.via).toBe('intoto');
    const dsse = await runCaptured(['rekor', 'get', found.find((e) => e.kind === 'dsse')!.uuid, '--trusted-root', root]);
    expect(dsse.out).toContain('not kept by dsse entries');
  });

  it("finds a signed run's provenance by the image digest it produced (provenant sign --rekor-url, then rekor search)", async () => {
    const imageDigest = createHash('sha256').update('built image').digest('hex');
    const run = imageTaskRun({ image: 'registry.invalid/app', digest: `sha256:${imageDigest}`, uid: '0f0f0f0f-1111-2222-3333-555555555555' });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(path.join(dir, 'x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    await writeFile(path.join(dir, 'run.json'), JSON.stringify(run));
    await writeFile(path.join(dir, 'config.json'), '{}');
    const signed = await runCaptured(['sign', '--config', path.join(dir, 'config.json'), '--signing-secrets', dir, '--rekor-url', rekor.url, path.join(dir, 'run.json')], { env: { HOME: '/nonexistent' }, cwd: dir });
    expect(signed.code, signed.err).toBe(0);
    const found = JSON.parse((await runCaptured(['rekor', 'search', '--digest', `sha256:${imageDigest}`, '--trusted-root', root, '-o', 'json'])).out) as { kind: string; digests: string[] }[];
    expect(found).toHaveLength(1);
    expect(found[0]?.kind).toBe('dsse');
  });

  it('fails with typed codes: tampered proof (1), unknown entry (1), usage (2)', async () => {
    rekor.log.tamperInclusionProofs(true);
    try {
      const r = await runCaptured(['rekor', 'get', '--log-index', '0', '--trusted-root', root]);
      expect(r.code).toBe(1);
      expect(r.err).toContain('TLOG_INCLUSION_PROOF_INVALID');
    } finally {
      rekor.log.tamperInclusionProofs(false);
    }
    const missing = await runCaptured(['rekor', 'get', 'a'.repeat(64), '--trusted-root', root]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('TLOG_ENTRY_NOT_FOUND');
    expect((await runCaptured(['rekor', 'get', '--trusted-root', root])).code).toBe(2);
    expect((await runCaptured(['rekor', 'search', '--digest', 'md5:00', '--trusted-root', root])).code).toBe(2);
    expect((await runCaptured(['rekor', 'search', '--digest', subject])).code).toBe(2);
  });
});
