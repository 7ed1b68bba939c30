// cosign 2.5 (Debian) verifies provenant's keyless output offline: mock Fulcio + Rekor + TSA over real
// HTTP, CNCF Distribution, `provenant sign --storage oci`. Trust comes only from files written from the
// mock's trusted root (test/support/cosign-keyless.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { createSignerFromConfig } from '../../src/signing/index.js';
import { createOciStorage, createRegistryClient } from '../../src/storage/oci/index.js';
import { verifyBundle } from '../../src/verify/index.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { createRekorWitness, createTransparentBundler, createTsaWitness, type TransparencyCheckpoint } from '../../src/transparency/index.js';
import { debianTool } from '../support/debian-tools.js';
import { prepareCosignKeyless, type CosignKeyless } from '../support/cosign-keyless.js';
import { runCaptured, type CliResult } from '../support/cli.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { pushTestImage, simpleSigningPayload, testStatement, type PushedImage } from '../support/oci-image.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { jwt } from '../unit/signing/helpers.js';
import { imageTaskRun } from '../support/task-run.js';

const issuer = 'https://kubernetes.default.svc';
const san = 'https://kubernetes.io/namespaces/build/serviceaccounts/pipeline';
const otherSan = 'https://kubernetes.io/namespaces/build/serviceaccounts/other';
const predicateType = 'https://slsa.dev/provenance/v0.2';

let dir: string;
let mock: SigstoreMock;
let registry: RegistryHandle;
const file = (name: string): string => path.join(dir, name);

let ck: CosignKeyless;
const cosign = (args: string[]): Promise<CliResult> => ck.run(args);
const identity = (who = san): string[] => ck.identity(who, issuer);
const legacyLogged = (): string[] => ck.legacyLogged();
const legacyStamped = (): string[] => ck.legacyStamped();
const bundleFlags = (stamped: boolean): string[] => ck.bundle(stamped);

function taskRun(image: PushedImage, name: string): Record<string, unknown> {
  const uid = `00000000-0000-0000-0000-${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  return imageTaskRun({ image: image.name, digest: image.digest, name, namespace: 'build', uid, serviceAccountName: 'pipeline', times: { start: '2026-01-01T00:00:00Z', completion: '2026-01-01T00:01:00Z' } });
}

async function writeConfig(name: string, keys: Record<string, string>): Promise<string> {
  await writeFile(file(name), JSON.stringify({
    'signers.x509.fulcio.enabled': 'true',
    'signers.x509.fulcio.address': mock.fulcioUrl,
    'signers.x509.identity.token.file': file('oidc-token'),
    'storage.oci.encoding-format': 'both',
    ...keys,
  }));
  return file(name);
}

async function sign(image: PushedImage, config: string, extra: string[] = []): Promise<CliResult> {
  const runFile = file(`run-${image.repository.replace(/\//g, '-')}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(runFile, JSON.stringify(taskRun(image, image.repository.replace(/\W/g, '-'))));
  return runCaptured(['sign', '--config', config, '--storage', 'oci', '--insecure', ...extra, runFile], { env: { HOME: dir }, cwd: dir });
}

async function sigLayers(image: PushedImage, suffix: 'sig' | 'att' = 'sig'): Promise<{ digest: string; annotations?: Record<string, string> }[]> {
  const client = createRegistryClient({ registry: registry.host, insecure: true, credentials: undefined, logger: createSilentLogger() });
  const m = await client.getManifest(image.repository, `sha256-${image.hex}.${suffix}`);
  return ((m?.json as { layers?: { digest: string; annotations?: Record<string, string> }[] } | undefined)?.layers ?? []);
}

beforeAll(async () => {
  debianTool('cosign');
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-cosign-keyless-'));
  [mock, registry] = await Promise.all([startSigstoreMock(), startRegistry()]);
  const token = jwt({ iss: issuer, sub: 'system:serviceaccount:build:pipeline', aud: ['sigstore'], 'kubernetes.io': { namespace: 'build', serviceaccount: { name: 'pipeline' } } });
  await writeFile(file('oidc-token'), token);
  ck = await prepareCosignKeyless(dir, mock);
}, 60_000);

afterAll(async () => {
  await Promise.all([mock?.stop(), registry?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cosign verifies keyless output offline', () => {
  it('with a Rekor entry from the config alone (no --rekor-url): .sig, .att and both bundle referrers; a wrong identity is refused', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/logged' });
    const config = await writeConfig('logged.json', { 'transparency.enabled': 'true', 'transparency.url': mock.rekorUrl });
    const before = mock.rekorEntryCount();
    const signed = await sign(image, config);
    expect(signed.code, signed.err).toBe(0);
    expect(mock.rekorEntryCount()).toBe(before + 2);
    expect((await sigLayers(image))[0]?.annotations?.['dev.sigstore.cosign/bundle']).toBeDefined();

    const results = await Promise.all([
      cosign(['verify', ...identity(), ...legacyLogged(), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...legacyLogged(), image.ref]),
      cosign(['verify', ...identity(), ...bundleFlags(false), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...bundleFlags(false), image.ref]),
    ]);
    expect(results.map((r) => (r.code === 0 ? 0 : r.err))).toEqual(results.map(() => 0));

    const wrong = await Promise.all([
      cosign(['verify', ...identity(otherSan), ...legacyLogged(), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(otherSan), ...bundleFlags(false), image.ref]),
      cosign(['verify', '--certificate-identity', san, '--certificate-oidc-issuer', 'https://evil.example', ...legacyLogged(), image.ref]),
    ]);
    for (const r of wrong) expect(r.code).not.toBe(0);
  }, 60_000);

  it('with a TSA timestamp only (no log): .sig, .att and both bundle referrers; a wrong identity is refused', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/stamped' });
    const config = await writeConfig('stamped.json', { 'signers.x509.tsa.url': mock.tsaUrl });
    const before = mock.rekorEntryCount();
    const signed = await sign(image, config);
    expect(signed.code, signed.err).toBe(0);
    expect(mock.rekorEntryCount()).toBe(before);
    const layer = (await sigLayers(image))[0];
    expect(layer?.annotations?.['dev.sigstore.cosign/rfc3161timestamp']).toBeDefined();
    expect(layer?.annotations?.['dev.sigstore.cosign/bundle']).toBeUndefined();

    const results = await Promise.all([
      cosign(['verify', ...identity(), ...legacyStamped(), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...legacyStamped(), image.ref]),
      cosign(['verify', ...identity(), ...bundleFlags(true), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...bundleFlags(true), image.ref]),
    ]);
    expect(results.map((r) => (r.code === 0 ? 0 : r.err))).toEqual(results.map(() => 0));

    const wrong = await Promise.all([
      cosign(['verify', ...identity(otherSan), ...legacyStamped(), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(otherSan), ...bundleFlags(true), image.ref]),
    ]);
    for (const r of wrong) expect(r.code).not.toBe(0);
  }, 60_000);

  it('a TSA answering with a genTime @sigstore/core cannot parse is asked again: the bundle verifies with sigstore-js (timestamp, no log)', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/gentime' });
    const config = await writeConfig('gentime.json', { 'signers.x509.tsa.url': mock.tsaUrl });
    mock.forceUnreadableTsaTimes(2);
    const signed = await sign(image, config);
    expect(signed.code, signed.err).toBe(0);
    const verified = verifyBundle(JSON.parse(signed.out), { identity: { san, issuer }, trustedRoot: mock.trustedRoot });
    expect(verified.signer).toEqual({ san, issuer });
    expect(verified.tlog).toBeUndefined();
  }, 60_000);

  it('a TSA chain other than the mock\'s makes cosign refuse the timestamp-only .sig and .att (the timestamps are what is checked)', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/stamped-wrong-tsa' });
    const signed = await sign(image, await writeConfig('stamped-2.json', { 'signers.x509.tsa.url': mock.tsaUrl }));
    expect(signed.code, signed.err).toBe(0);
    const otherChain = ck.legacyStamped(ck.files.fulcioRoot);
    const results = await Promise.all([
      cosign(['verify', ...identity(), ...otherChain, image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...otherChain, image.ref]),
    ]);
    for (const r of results) expect(r.code).not.toBe(0);
  }, 60_000);
});

describe('log entry and timestamp together, and manual mode', () => {
  it('transparency.enabled + signers.x509.tsa.url: cosign verifies through either proof; sigstore-js with --require-tlog', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/both-proofs' });
    const config = await writeConfig('both-proofs.json', { 'transparency.enabled': 'true', 'transparency.url': mock.rekorUrl, 'signers.x509.tsa.url': mock.tsaUrl });
    const signed = await sign(image, config);
    expect(signed.code, signed.err).toBe(0);
    const bundle = JSON.parse(signed.out) as SerializedBundle;
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);
    expect(verifyBundle(bundle, { identity: { san, issuer }, trustedRoot: mock.trustedRoot, requireTlog: true }).tlog).toBeDefined();
    const results = await Promise.all([
      cosign(['verify', ...identity(), ...legacyLogged(), image.ref]),
      cosign(['verify', ...identity(), ...legacyStamped(), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...legacyLogged(), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...legacyStamped(), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...bundleFlags(false), image.ref]),
    ]);
    expect(results.map((r) => (r.code === 0 ? 0 : r.err))).toEqual([0, 0, 0, 0, 0]);
  }, 60_000);

  it('manual: sign logs a run annotated transparency-upload and not another (TSA for both), as the controller does', async () => {
    const config = await writeConfig('manual.json', { 'transparency.enabled': 'manual', 'transparency.url': mock.rekorUrl, 'signers.x509.tsa.url': mock.tsaUrl });
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/manual' });
    const plain = taskRun(image, 'plain');
    const annotated = { ...plain, metadata: { ...(plain['metadata'] as Record<string, unknown>), name: 'annotated', annotations: { 'chains.tekton.dev/transparency-upload': 'true' } } };
    const entries: number[] = [];
    for (const [name, run] of [['plain', plain], ['annotated', annotated]] as const) {
      await writeFile(file(`manual-${name}.json`), JSON.stringify(run));
      const r = await runCaptured(['sign', '--config', config, file(`manual-${name}.json`)], { env: { HOME: dir }, cwd: dir });
      expect(r.code, r.err).toBe(0);
      const b = JSON.parse(r.out) as SerializedBundle;
      expect(b.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);
      entries.push((b.verificationMaterial as Partial<SerializedBundle['verificationMaterial']>).tlogEntries?.length ?? 0);
    }
    expect(entries).toEqual([0, 1]);
  }, 60_000);
});

describe('issue 16 scenario: signing one image twice', () => {
  it('signed without --rekor-url (config logs it), then with: the .sig keeps both signatures, each with its Rekor bundle, and verifies offline', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/twice' });
    const config = await writeConfig('twice.json', { 'transparency.enabled': 'true', 'transparency.url': mock.rekorUrl });
    expect((await sign(image, config)).code).toBe(0);
    expect((await sign(image, config, ['--rekor-url', mock.rekorUrl])).code).toBe(0);
    const layers = await sigLayers(image);
    expect(layers).toHaveLength(2);
    for (const l of layers) expect(l.annotations?.['dev.sigstore.cosign/bundle']).toBeDefined();
    const r = await cosign(['verify', ...identity(), ...legacyLogged(), image.ref]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toHaveLength(2);
  }, 60_000);

  it('timestamp only (--no-tlog --tsa-url), then logged: two different signatures, both stay; cosign verifies with the log and with the TSA', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/stamped-then-logged' });
    const config = await writeConfig('twice-2.json', { 'transparency.enabled': 'true', 'transparency.url': mock.rekorUrl });
    const first = await sign(image, config, ['--no-tlog', '--tsa-url', mock.tsaUrl]);
    expect(first.code, first.err).toBe(0);
    expect((await sign(image, config)).code).toBe(0);
    const layers = await sigLayers(image);
    expect(layers.map((l) => [Boolean(l.annotations?.['dev.sigstore.cosign/rfc3161timestamp']), Boolean(l.annotations?.['dev.sigstore.cosign/bundle'])])).toEqual([
      [true, false],
      [false, true],
    ]);
    const [logged, stamped] = await Promise.all([
      cosign(['verify', ...identity(), ...legacyLogged(), image.ref]),
      cosign(['verify', ...identity(), ...legacyStamped(), image.ref]),
    ]);
    expect(logged.code, logged.err).toBe(0);
    expect(stamped.code, stamped.err).toBe(0);
  }, 60_000);

  it('--no-tlog on a keyless config without a TSA is refused (CONFIG_INVALID), and nothing is stored', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/refused' });
    const config = await writeConfig('refused.json', { 'transparency.enabled': 'true', 'transparency.url': mock.rekorUrl });
    const r = await sign(image, config, ['--no-tlog']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('CONFIG_INVALID');
    expect(await sigLayers(image)).toEqual([]);
  });
});

describe('layer merge, read back with cosign', () => {
  it('the same signature stored before and after it was logged (a resumed checkpoint): one .sig and one .att layer, with the Rekor bundle', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/resumed' });
    const logger = createSilentLogger();
    const { config } = parseConfig({
      'signers.x509.fulcio.enabled': 'true',
      'signers.x509.fulcio.address': mock.fulcioUrl,
      'signers.x509.identity.token.file': file('oidc-token'),
      'transparency.enabled': 'true',
      'transparency.url': mock.rekorUrl,
    });
    const signer = await createSignerFromConfig(config, { logger }, 'x509');
    const storage = createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'dsse' }, logger, tagUpdate: { settleMs: 0 } });
    const run = { kind: 'TaskRun' as const, namespace: 'build', name: 'resumed', uid: 'u-1' };
    const subjects = [{ name: image.name, digest: { sha256: image.hex } }];
    const artifacts = [
      { type: 'image-signature' as const, kind: 'message-signature' as const, payload: simpleSigningPayload(image), shortKey: image.hex.slice(0, 12) },
      { type: 'provenance' as const, kind: 'dsse' as const, payload: testStatement(image), shortKey: 'taskrun-u-1' },
    ];
    for (const a of artifacts) {
      let saved: TransparencyCheckpoint | undefined;
      const unlogged = await createTransparentBundler({ signer, witnesses: [], logger }).create({ kind: a.kind, data: a.payload }, { save: async (c) => void (saved = c) });
      const request = { run, artifact: { type: a.type, shortKey: a.shortKey, subjects, predicateType }, payload: a.payload };
      await storage.store({ ...request, bundle: unlogged });
      expect(saved).toBeDefined();
      // The Rekor upload of the very same signature, as a retry resuming the checkpoint does.
      const witnesses = [createRekorWitness({ url: mock.rekorUrl, logger })];
      const logged = await createTransparentBundler({ signer, witnesses, logger }).create({ kind: a.kind, data: a.payload }, { checkpoint: { ...(saved as TransparencyCheckpoint), witnessed: false } });
      expect(logged.verificationMaterial.tlogEntries).toHaveLength(1);
      await storage.store({ ...request, bundle: logged });
    }
    for (const suffix of ['sig', 'att'] as const) {
      const layers = await sigLayers(image, suffix);
      expect(layers).toHaveLength(1);
      expect(layers[0]?.annotations?.['dev.sigstore.cosign/bundle']).toBeDefined();
    }
    const results = await Promise.all([
      cosign(['verify', ...identity(), ...legacyLogged(), image.ref]),
      cosign(['verify-attestation', '--type', predicateType, ...identity(), ...legacyLogged(), image.ref]),
    ]);
    expect(results.map((r) => (r.code === 0 ? 0 : r.err))).toEqual([0, 0]);
    await signer.close?.();
  }, 60_000);

  it('with a TSA: the .att timestamp covers the layer bytes (cosign checks it there), the .sig one the signature', async () => {
    const image = await pushTestImage({ host: registry.host, repository: 'keyless/att-timestamp' });
    const logger = createSilentLogger();
    const tsa = createTsaWitness({ url: mock.tsaUrl, logger });
    const { config } = parseConfig({
      'signers.x509.fulcio.enabled': 'true',
      'signers.x509.fulcio.address': mock.fulcioUrl,
      'signers.x509.identity.token.file': file('oidc-token'),
      'signers.x509.tsa.url': mock.tsaUrl,
    });
    const signer = await createSignerFromConfig(config, { logger }, 'x509');
    const payload = testStatement(image);
    const bundle = await createTransparentBundler({ signer, witnesses: [tsa], logger }).create({ kind: 'dsse', data: payload });
    const request = { run: { kind: 'TaskRun' as const, namespace: 'build', name: 'att', uid: 'u-2' }, artifact: { type: 'provenance' as const, shortKey: 'taskrun-u-2', subjects: [{ name: image.name, digest: { sha256: image.hex } }], predicateType }, payload, bundle };
    // Without a timestamper the bundle's timestamp (over the DSSE signature) is left off the layer: cosign would reject it.
    await createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'dsse' }, logger, tagUpdate: { settleMs: 0 } }).store(request);
    expect((await sigLayers(image, 'att'))[0]?.annotations?.['dev.sigstore.cosign/rfc3161timestamp']).toBeUndefined();
    await createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'dsse' }, logger, tagUpdate: { settleMs: 0 }, timestamper: tsa.timestamp }).store(request);
    const layers = await sigLayers(image, 'att');
    expect(layers).toHaveLength(1);
    expect(layers[0]?.annotations?.['dev.sigstore.cosign/rfc3161timestamp']).toBeDefined();
    const r = await cosign(['verify-attestation', '--type', predicateType, ...identity(), ...legacyStamped(), image.ref]);
    expect(r.code, r.err).toBe(0);
    await signer.close?.();
  }, 60_000);
});
