// Multi-arch images (tektoncd/chains#1070): a TaskRun that built an image index, reconciled by the
// controller's own path (reconcileRun + createWiring) against CNCF Distribution. With
// artifacts.oci.sign-index-manifests each platform manifest gets its own .sig / bundle and is a
// provenance subject, and Debian's cosign 2.5 verifies a platform manifest offline; without the flag
// the platform manifests stay unsigned. `provenant verify --image` follows the index by --platform.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Signer } from '@sigstore/sign';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { mergeCheckpoints, type Checkpoints, type RunJobData } from '../../src/queue/index.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { reconcileRun, type RunAccess } from '../../src/reconcile/index.js';
import { createRegistryClient, digestTag, hostPlatform } from '../../src/storage/index.js';
import type { RunKey } from '../../src/tekton/index.js';
import { createWiring } from '../../src/wiring/index.js';
import { runCaptured } from '../support/cli.js';
import { debianTool } from '../support/debian-tools.js';
import { createTestKey, pushTestImage, pushTestIndex, type PushedIndex, type TestKey } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { imageTaskRun } from '../support/task-run.js';

const run = promisify(execFile);
let registry: RegistryHandle;
let key: TestKey;
let dir: string;
const logger = createSilentLogger();

beforeAll(async () => {
  registry = await startRegistry();
  key = createTestKey();
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-multiarch-'));
  await writeFile(path.join(dir, 'key.pub'), key.publicKeyPem);
  // A key-only trusted root (no logs, CAs or TSAs): keeps cosign's bundle path off TUF and the network.
  await writeFile(
    path.join(dir, 'trusted_root.json'),
    JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] }),
  );
});

afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function taskRunFor(uid: string, image: PushedIndex): Record<string, unknown> {
  return imageTaskRun({ image: `${image.name}:latest`, digest: image.digest, name: `build-${uid}`, uid });
}

/**
 * The test key as the production key signers present it: no key hint, so the DSSE signature's keyid is
 * empty (securesystemslib's DSSE verifier in cosign's bundle path skips a signature whose keyid differs).
 */
const signer: Signer = { sign: async (data) => ({ ...(await key.signer.sign(data)), key: { $case: 'publicKey', publicKey: key.publicKeyPem } }) };

/** One controller job for the run, as the queue would run it. */
async function reconcile(raw: Record<string, unknown>, extra: Record<string, string>): Promise<void> {
  const { config } = parseConfig({
    'artifacts.taskrun.format': 'in-toto',
    'artifacts.taskrun.storage': 'oci',
    'artifacts.oci.storage': 'oci',
    'storage.oci.encoding-format': 'both',
    'transparency.enabled': 'false',
    ...extra,
  });
  const meta = raw['metadata'] as { name: string; namespace: string; uid: string };
  const runKey: RunKey = { kind: 'TaskRun', namespace: meta.namespace, name: meta.name, uid: meta.uid };
  const patched: Record<string, string | null>[] = [];
  const runs: RunAccess = {
    get: async () => raw,
    patchAnnotations: async (_k, a) => void patched.push(a),
    emitEvent: async () => undefined,
  };
  const wiring = await createWiring(config, { logger, runStore: { get: async () => raw, patchAnnotations: async () => undefined }, signerOverride: signer, tagWrites: { mode: 'process' } });
  let data: RunJobData = { key: runKey, enqueuedAt: 0, checkpoints: {} };
  const ctx = {
    attempt: 1,
    get data() {
      return data;
    },
    checkpoint: async (patch: Checkpoints) => {
      data = { ...data, checkpoints: mergeCheckpoints(data.checkpoints, patch) };
    },
  };
  try {
    const outcome = await reconcileRun(ctx, { runs, wiring: () => wiring, logger });
    expect(outcome.status).toBe('signed');
  } finally {
    await wiring.close();
  }
}

async function cosign(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const tuf = await mkdtemp(path.join(tmpdir(), 'provenant-tuf-'));
  try {
    const { stdout, stderr } = await run(debianTool('cosign'), args, { env: { PATH: process.env['PATH'] ?? '', HOME: dir, TUF_ROOT: tuf }, timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: e.stdout ?? '', err: e.stderr ?? '' };
  } finally {
    await rm(tuf, { recursive: true, force: true });
  }
}

const hasTag = async (repository: string, tag: string): Promise<boolean> =>
  (await createRegistryClient({ registry: registry.host, insecure: true, logger }).getManifest(repository, tag)) !== undefined;

describe('artifacts.oci.sign-index-manifests', () => {
  it('on: each platform manifest gets a .sig, a bundle and the attestation; cosign 2.5 verifies a platform manifest offline', async () => {
    // buildx's attestation manifest in the index is not a platform: never signed.
    const buildxAttestation = await pushTestImage({ host: registry.host, repository: 'multi/on', tag: 'buildx-att', seed: 'attestation' });
    const index = await pushTestIndex({
      host: registry.host,
      repository: 'multi/on',
      platforms: ['linux/amd64', 'linux/arm64/v8'],
      extra: [
        {
          mediaType: buildxAttestation.mediaType,
          digest: buildxAttestation.digest,
          size: buildxAttestation.size,
          platform: { architecture: 'unknown', os: 'unknown' },
          annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
        },
      ],
    });
    await reconcile(taskRunFor('uid-on', index), { 'artifacts.oci.sign-index-manifests': 'true' });

    for (const image of [index, ...index.platforms]) {
      expect(await hasTag('multi/on', digestTag(image.digest, 'sig'))).toBe(true);
      expect(await hasTag('multi/on', digestTag(image.digest, 'att'))).toBe(true);
      expect(await hasTag('multi/on', digestTag(image.digest))).toBe(true); // bundle referrers (tag schema)
    }
    expect(await hasTag('multi/on', digestTag(buildxAttestation.digest, 'sig'))).toBe(false);

    const arm = index.platforms[1]!;
    const common = ['--key', path.join(dir, 'key.pub'), '--insecure-ignore-tlog', '--allow-http-registry'];
    const sig = await cosign(['verify', ...common, arm.ref]);
    expect(sig.code, sig.err).toBe(0);
    expect(JSON.parse(sig.out)[0].critical.image['docker-manifest-digest']).toBe(arm.digest);
    const att = await cosign(['verify-attestation', ...common, '--type', 'slsaprovenance', arm.ref]);
    expect(att.code, att.err).toBe(0);
    const statement = JSON.parse(Buffer.from(JSON.parse(att.out.trim().split('\n')[0]!).payload, 'base64').toString('utf8')) as {
      subject: { name: string; digest: { sha256: string } }[];
    };
    expect(statement.subject.map((s) => s.digest.sha256)).toEqual([index.hex, ...index.platforms.map((p) => p.hex)]);
    // The Sigstore bundle referrer of the platform manifest (cosign checks the subject digest).
    const bundle = await cosign(['verify-attestation', ...common, '--new-bundle-format', '--trusted-root', path.join(dir, 'trusted_root.json'), '--type', 'slsaprovenance', arm.ref]);
    expect(bundle.code, bundle.err).toBe(0);

    // provenant verify follows the index: one platform, every platform, or the index itself.
    const verify = (platform?: string): Promise<{ code: number; out: string; err: string }> =>
      runCaptured(['verify', '--image', index.ref, '--key', path.join(dir, 'key.pub'), ...(platform ? ['--platform', platform] : [])], { env: { HOME: dir } });
    const one = await verify('linux/arm64');
    expect(one.code, one.err).toBe(0);
    expect(one.out).toContain(`Verified OK: ${arm.ref}`);
    expect(one.out).not.toContain(`Verified OK: ${index.platforms[0]!.ref}`);
    const all = await verify('all');
    expect(all.code, all.err).toBe(0);
    for (const p of index.platforms) expect(all.out).toContain(`Verified OK: ${p.ref}`);
    expect((await verify('index')).code).toBe(0);
    const host = await verify();
    expect(host.code).toBe(['linux/amd64', 'linux/arm64'].includes(hostPlatform()) ? 0 : 2);
    // trace keeps the index as its root and follows a `platform` link to the selected manifest only,
    // whose own attestation (it is a subject) verifies.
    const trace = await runCaptured(['trace', index.ref, '--key', path.join(dir, 'key.pub'), '--platform', 'linux/arm64', '-o', 'json'], { env: { HOME: dir } });
    expect(trace.code, trace.err).toBe(0);
    const graph = JSON.parse(trace.out) as { root: string; nodes: { id: string; verdict?: string }[]; edges: { from: string; to: string; relation: string }[] };
    const platformEdges = graph.edges.filter((e) => e.from === graph.root && e.relation === 'platform');
    expect(platformEdges).toHaveLength(1);
    expect(platformEdges[0]!.to).toContain(arm.digest);
    expect(graph.nodes.find((n) => n.id === platformEdges[0]!.to)?.verdict).toBe('verified');
    const missing = await verify('windows/amd64');
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('VERIFY_PLATFORM_NOT_FOUND');
  }, 60_000);

  it('provenant sign (the same engine, one shot) signs the platform manifests too', async () => {
    const index = await pushTestIndex({ host: registry.host, repository: 'multi/cli', platforms: ['linux/amd64', 'linux/s390x'] });
    await writeFile(path.join(dir, 'x509.pem'), key.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    await writeFile(path.join(dir, 'cli-run.json'), JSON.stringify(taskRunFor('uid-cli', index)));
    await writeFile(path.join(dir, 'cli-config.json'), JSON.stringify({ 'artifacts.oci.sign-index-manifests': 'true', 'transparency.enabled': 'false' }));
    const signed = await runCaptured(
      ['sign', '--config', path.join(dir, 'cli-config.json'), '--signing-secrets', dir, '--storage', 'oci', '--insecure', path.join(dir, 'cli-run.json')],
      { env: { HOME: dir } },
    );
    expect(signed.code, signed.err).toBe(0);
    for (const image of [index, ...index.platforms]) {
      expect(await hasTag('multi/cli', digestTag(image.digest, 'sig'))).toBe(true);
      expect(await hasTag('multi/cli', digestTag(image.digest, 'att'))).toBe(true);
    }
    const s390x = await runCaptured(['verify', '--image', index.ref, '--key', path.join(dir, 'key.pub'), '--platform', 'linux/s390x'], { env: { HOME: dir } });
    expect(s390x.code, s390x.err).toBe(0);
  }, 60_000);

  it('off (the default): only the index is signed; cosign rejects a platform manifest and provenant verify says why', async () => {
    const index = await pushTestIndex({ host: registry.host, repository: 'multi/off', platforms: ['linux/amd64', 'linux/arm64'], docker: true });
    await reconcile(taskRunFor('uid-off', index), {});

    expect(await hasTag('multi/off', digestTag(index.digest, 'sig'))).toBe(true);
    for (const p of index.platforms) {
      expect(await hasTag('multi/off', digestTag(p.digest, 'sig'))).toBe(false);
      expect(await hasTag('multi/off', digestTag(p.digest, 'att'))).toBe(false);
    }
    const amd = index.platforms[0]!;
    const sig = await cosign(['verify', '--key', path.join(dir, 'key.pub'), '--insecure-ignore-tlog', '--allow-http-registry', amd.ref]);
    expect(sig.code).not.toBe(0);
    const verify = await runCaptured(['verify', '--image', index.ref, '--key', path.join(dir, 'key.pub'), '--platform', 'linux/amd64'], { env: { HOME: dir } });
    expect(verify.code).toBe(1);
    expect(verify.err).toContain('VERIFY_NO_ATTESTATIONS');
    // The index's own attestation still verifies.
    const own = await runCaptured(['verify', '--image', index.ref, '--key', path.join(dir, 'key.pub'), '--platform', 'index'], { env: { HOME: dir } });
    expect(own.code, own.err).toBe(0);
  }, 60_000);
});
