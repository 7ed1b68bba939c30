/**
 * `trace` point 8: SLSA Verification Summary Attestations. `trace` and `verify --image` write a signed
 * VSA (`--vsa-out FILE --vsa-key KEY`); it verifies with `provenant verify --bundle` and with the real
 * cosign (`verify-blob-attestation --new-bundle-format`, claims checked against the image manifest).
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createRegistryClient } from '../../src/storage/oci/index.js';
import { runCaptured } from '../support/cli.js';
import { debianTool } from '../support/debian-tools.js';
import { createTestKey, type PushedImage } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { signAndAttach } from '../support/supply-chain.js';
import { baseAnnotations, pushAnnotatedImage } from '../support/trace-images.js';

const VSA = 'https://slsa.dev/verification_summary/v1';
let registry: RegistryHandle;
let dir: string;
const key = createTestKey();
const img: Record<string, PushedImage> = {};

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-trace-vsa-'));
  img['base'] = await pushAnnotatedImage({ host: registry.host, repository: 'vsa/base' });
  img['app'] = await pushAnnotatedImage({ host: registry.host, repository: 'vsa/app', annotations: baseAnnotations(img['base']) });
  await Promise.all([signAndAttach(key, img['app'], [], { version: 'v1' }), signAndAttach(key, img['base'], [])]);
  const vsaKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(path.join(dir, 'vsa.key'), vsaKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(path.join(dir, 'vsa.pub'), vsaKeys.publicKey.export({ format: 'pem', type: 'spki' }));
  await writeFile(path.join(dir, 'other.pub'), createTestKey().publicKeyPem);
  await writeFile(path.join(dir, 'key.pub'), key.publicKeyPem);
  const client = createRegistryClient({ registry: registry.host, insecure: true, logger: createSilentLogger() });
  await writeFile(path.join(dir, 'app.manifest.json'), (await client.getManifest('vsa/app', img['app'].digest))!.bytes);
  await writeFile(
    path.join(dir, 'empty-root.json'),
    JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] }),
  );
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const run = (argv: string[]): ReturnType<typeof runCaptured> => runCaptured(argv, { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir });

async function predicate(file: string): Promise<Record<string, unknown>> {
  const bundle = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { dsseEnvelope: { payload: string } };
  return (JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as { predicate: Record<string, unknown> }).predicate;
}

async function cosign(args: string[]): Promise<number> {
  try {
    await promisify(execFile)(debianTool('cosign'), args, { cwd: dir, env: { ...process.env, TUF_ROOT: path.join(dir, 'tuf'), HOME: dir } });
    return 0;
  } catch (err) {
    return Number((err as { code?: number }).code ?? 1);
  }
}

describe('verification summary attestations', () => {
  it('trace writes a signed VSA that provenant verify and cosign accept, and that a wrong key or an edit does not pass', async () => {
    const traced = await run(['trace', img['app']!.ref, '--key', path.join(dir, 'key.pub'), '--vsa-out', 'trace.vsa.json', '--vsa-key', 'vsa.key']);
    expect(traced.code).toBe(0);
    const p = await predicate('trace.vsa.json');
    expect(p).toMatchObject({ verificationResult: 'PASSED', verifiedLevels: ['SLSA_BUILD_LEVEL_2'], resourceUri: img['app']!.ref, dependencyLevels: { SLSA_BUILD_LEVEL_2: 1 }, slsaVersion: '1.0' });
    expect((p['inputAttestations'] as unknown[]).length).toBe(1);
    expect((await run(['verify', '--bundle', path.join(dir, 'trace.vsa.json'), '--key', path.join(dir, 'vsa.pub'), '--predicate-type', VSA])).code).toBe(0);
    expect((await run(['verify', '--bundle', path.join(dir, 'trace.vsa.json'), '--key', path.join(dir, 'other.pub')])).code).toBe(1);
    const cosignArgs = ['verify-blob-attestation', '--bundle', 'trace.vsa.json', '--new-bundle-format', '--trusted-root', 'empty-root.json', '--insecure-ignore-tlog', '--type', VSA];
    expect(await cosign([...cosignArgs, '--key', 'vsa.pub', 'app.manifest.json'])).toBe(0);
    expect(await cosign([...cosignArgs, '--key', 'other.pub', 'app.manifest.json'])).not.toBe(0);
    // Claims checked: the VSA is about the app manifest, not about another blob.
    expect(await cosign([...cosignArgs, '--key', 'vsa.pub', 'vsa.pub'])).not.toBe(0);
    const bundle = JSON.parse(await readFile(path.join(dir, 'trace.vsa.json'), 'utf8')) as { dsseEnvelope: { payload: string } };
    bundle.dsseEnvelope.payload = Buffer.from(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8').replace('PASSED', 'FAILED')).toString('base64');
    await writeFile(path.join(dir, 'edited.vsa.json'), JSON.stringify(bundle));
    expect((await run(['verify', '--bundle', path.join(dir, 'edited.vsa.json'), '--key', path.join(dir, 'vsa.pub')])).code).toBe(1);
  });

  it('verify --image writes PASSED or FAILED summaries', async () => {
    expect((await run(['verify', '--image', img['app']!.ref, '--key', path.join(dir, 'key.pub'), '--vsa-out', 'ok.vsa.json', '--vsa-key', 'vsa.key'])).code).toBe(0);
    expect(await predicate('ok.vsa.json')).toMatchObject({ verificationResult: 'PASSED', policy: { uri: 'provenant:verify-flags' } });
    expect((await run(['verify', '--image', img['app']!.ref, '--key', path.join(dir, 'other.pub'), '--vsa-out', 'failed.vsa.json', '--vsa-key', 'vsa.key'])).code).toBe(1);
    expect(await predicate('failed.vsa.json')).toMatchObject({ verificationResult: 'FAILED', verifiedLevels: [], inputAttestations: [] });
    expect((await run(['verify', '--image', img['app']!.ref, '--key', path.join(dir, 'key.pub'), '--vsa-out', 'x.json'])).code).toBe(2);
  });
});
