// `provenant sign --storage oci` then `provenant verify --image` against a real registry (CNCF
// Distribution: no referrers API, so bundles go through the tag fallback) and a mock Rekor.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { createOciReader, createRegistryClient, type Descriptor } from '../../src/storage/index.js';
import { pushTestImage, type PushedImage } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { captureIo, type CapturingIo } from '../support/cli.js';

// No DOCKER_CONFIG/HOME from the machine: the registry is open.
const testIo = (): CapturingIo => captureIo({ env: { HOME: '/nonexistent' } });

function taskRun(image: PushedImage, uid: string): Record<string, unknown> {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name: `build-${uid.slice(0, 4)}`, namespace: 'ci', uid },
    spec: { taskRef: { name: 'build' } },
    status: {
      startTime: '2024-01-01T00:00:00Z',
      completionTime: '2024-01-01T00:01:00Z',
      conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
      results: [
        { name: 'IMAGE_URL', type: 'string', value: image.name },
        { name: 'IMAGE_DIGEST', type: 'string', value: image.digest },
      ],
      taskSpec: { steps: [{ name: 'build', image: 'busybox' }] },
    },
  };
}

let registry: RegistryHandle;
let sigstore: SigstoreMock;
let dir: string;
const file = (name: string): string => path.join(dir, name);

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = testIo();
  const code = await runCli(argv, io);
  return { code, out: io.out.join(''), err: io.err.join('') };
}

async function signImage(repository: string, encoding: string, extra: string[] = []): Promise<PushedImage> {
  const image = await pushTestImage({ host: registry.host, repository });
  const uid = `${repository.replace(/[^a-z0-9]/g, '')}-0000-1111-2222`;
  await writeFile(file(`${repository}.run.json`), JSON.stringify(taskRun(image, uid)));
  await writeFile(file(`${repository}.config.json`), JSON.stringify({ 'storage.oci.encoding-format': encoding }));
  const signed = await run([
    'sign',
    '--config',
    file(`${repository}.config.json`),
    '--signing-secrets',
    dir,
    '--storage',
    'oci',
    '--insecure',
    ...extra,
    file(`${repository}.run.json`),
  ]);
  expect(signed.code, signed.err).toBe(0);
  expect(signed.err).toContain('stored provenance');
  expect(signed.err).toContain('stored image-signature');
  return image;
}

beforeAll(async () => {
  [registry, sigstore] = await Promise.all([startRegistry(), startSigstoreMock()]);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-cli-verify-image-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(file('x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(file('key.pub'), publicKey.export({ format: 'pem', type: 'spki' }));
  await writeFile(file('other.pub'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }));
  await writeFile(file('trusted_root.json'), JSON.stringify(sigstore.trustedRoot));
});

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('provenant sign --storage oci / verify --image', () => {
  it.each(['dsse', 'sigstore-bundle'])('verifies the attestation stored with encoding %s (0), rejects a wrong key (1)', async (encoding) => {
    const image = await signImage(`app-${encoding}`, encoding);
    const ok = await run(['verify', '--image', image.ref, '--key', file('key.pub'), '--insecure']);
    expect(ok.code).toBe(0);
    expect(ok.err).not.toContain('rejected');
    expect(ok.err).toContain('image signature(s) present');
    expect(ok.out).toContain(encoding === 'dsse' ? '.att layer' : 'sigstore bundle referrer');
    expect(ok.out).toContain('builder: https://tekton.dev/chains/v2');
    expect(ok.out).toContain(`sha256:${image.hex}`);

    const wrong = await run(['verify', '--image', image.ref, '--key', file('other.pub'), '--insecure']);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('VERIFY_SIGNATURE_INVALID');
  });

  it('stores both layouts with encoding both and verifies each; the image signature is stored as .sig', async () => {
    const image = await signImage('app-both', 'both');
    const ok = await run(['verify', '--image', image.ref, '--key', file('key.pub'), '--insecure']);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('.att layer #1');
    expect(ok.out).toContain('sigstore bundle referrer #1');
    expect(ok.err).toContain('2 image signature(s) present');

    // What verify reads: attestations only; the two image signatures are counted, not downloaded.
    const reader = createOciReader({ config: { repository: undefined, insecure: true }, logger: createSilentLogger() });
    const all = await reader.readAttestations(image.ref);
    const lean = await reader.readAttestations(image.ref, { attestationsOnly: true });
    expect([all.bundles.length, all.envelopes.length, all.signatures.length, all.unreadSignatures]).toEqual([2, 1, 1, undefined]);
    expect([lean.bundles.length, lean.envelopes.length, lean.signatures.length, lean.unreadSignatures]).toEqual([1, 1, 0, 2]);
    expect(lean.bundles[0]?.dsseEnvelope).toBeDefined();
  });

  it('--builder-id and --predicate-type: match passes (0), mismatch rejects (1) with the policy code', async () => {
    const image = await signImage('app-policy', 'dsse');
    const base = ['verify', '--image', image.ref, '--key', file('key.pub'), '--insecure'];
    expect((await run([...base, '--builder-id', 'https://tekton.dev/chains/v2', '--predicate-type', 'https://slsa.dev/provenance/v0.2'])).code).toBe(0);

    const builder = await run([...base, '--builder-id', 'https://example.com/other-builder']);
    expect(builder.code).toBe(1);
    expect(builder.err).toContain('POLICY_BUILDER_MISMATCH');

    const predicate = await run([...base, '--predicate-type', 'https://slsa.dev/provenance/v1']);
    expect(predicate.code).toBe(1);
    expect(predicate.err).toContain('POLICY_PREDICATE_TYPE_MISMATCH');
  });

  it('--require-tlog: passes with a Rekor entry (both layouts), fails without one', async () => {
    const logged = await signImage('app-tlog', 'both', ['--rekor-url', sigstore.rekorUrl]);
    const tlog = await run(['verify', '--image', logged.ref, '--key', file('key.pub'), '--trusted-root', file('trusted_root.json'), '--require-tlog', '--insecure']);
    expect(tlog.err).not.toContain('rejected');
    expect(tlog.code).toBe(0);
    expect(tlog.out).toMatch(/tlog: logIndex \d+/);
    expect(tlog.out).toContain('.att layer #1');
    expect(tlog.out).toContain('sigstore bundle referrer #1');

    const unlogged = await signImage('app-notlog', 'sigstore-bundle');
    const missing = await run(['verify', '--image', unlogged.ref, '--key', file('key.pub'), '--trusted-root', file('trusted_root.json'), '--require-tlog', '--insecure']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('VERIFY_TLOG_MISSING');
  });

  it('keyed lean path: a tampered .att envelope → VERIFY_SIGNATURE_INVALID (1); a log required without a trusted root → VERIFY_TLOG_MISSING (1)', async () => {
    const image = await signImage('app-tampered', 'dsse');
    const client = createRegistryClient({ registry: registry.host, insecure: true, logger: createSilentLogger() });
    const tag = `sha256-${image.hex}.att`;
    const att = await client.getManifest('app-tampered', tag);
    const layer = (att?.json['layers'] as Descriptor[] | undefined)?.[0];
    if (att === undefined || layer === undefined) throw new Error('no .att layer stored');
    const envelope = JSON.parse(Buffer.from(await client.getBlob('app-tampered', layer.digest)).toString('utf8')) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...statement, predicateType: 'https://example.com/forged' })).toString('base64');
    const pushed = await client.pushBlob('app-tampered', Buffer.from(JSON.stringify({ ...envelope, payload: forged })), layer.mediaType);
    const manifest = { ...att.json, layers: [{ ...layer, digest: pushed.digest, size: pushed.size }] };
    await client.putManifest('app-tampered', tag, Buffer.from(JSON.stringify(manifest)), att.descriptor.mediaType);

    const tampered = await run(['verify', '--image', image.ref, '--key', file('key.pub'), '--insecure']);
    expect(tampered.code).toBe(1);
    expect(tampered.err).toContain('VERIFY_SIGNATURE_INVALID');
    expect(tampered.out).not.toContain('Verified OK');

    const untampered = await signImage('app-lean-tlog', 'both');
    const noRoot = await run(['verify', '--image', untampered.ref, '--key', file('key.pub'), '--require-tlog', '--insecure']);
    expect(noRoot.code).toBe(1);
    expect(noRoot.err).toContain('VERIFY_TLOG_MISSING');
  });

  it('an image without attestations is rejected (1); a reference without digest is a usage error (2)', async () => {
    const bare = await pushTestImage({ host: registry.host, repository: 'bare' });
    const none = await run(['verify', '--image', bare.ref, '--key', file('key.pub'), '--insecure']);
    expect(none.code).toBe(1);
    expect(none.err).toContain('VERIFY_NO_ATTESTATIONS');

    const noDigest = await run(['verify', '--image', `${registry.host}/bare:latest`, '--key', file('key.pub'), '--insecure']);
    expect(noDigest.code).toBe(2);
    expect(noDigest.err).toContain('OCI_REFERENCE_INVALID');
  });
});
