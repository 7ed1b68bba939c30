// cosign 2.5 and oras 1.2 (Debian's builds, not ours) read what provenant stores, for every signer:
// the Secret key (P-256, P-384, ed25519), PKCS#11 (SoftHSM, P-256 and P-384), AWS KMS and GCP KMS (protocol
// stand-ins) and keyless (mock Fulcio + Rekor). Keys Rekor v1 + cosign cannot take with a log (KMS P-384,
// ed25519 image signatures) are refused at config load with SIGNING_KEY_TLOG_UNSUPPORTED (docs/signing.md). One table over signers; each row signs a TaskRun's provenance and
// image signature through the same path as `provenant sign --storage oci` (plan → sign → log → store,
// encoding `both`), then cosign verifies the legacy `.sig`/`.att` tags and the Sigstore bundle
// referrers, requiring the transparency log whenever the row logged to Rekor.
//
// cosign stays off the network (test/support/cosign-keyless.ts): TUF_ROOT is a temp dir,
// `--new-bundle-format` always gets `--trusted-root`, and the legacy path gets the mock's keys through
// cosign's SIGSTORE_* env files (or `--insecure-ignore-tlog` for the rows without a log entry).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type Config, type FormatName } from '../../src/config/index.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { planArtifacts } from '../../src/reconcile/index.js';
import { createAwsKmsSigner } from '../../src/signing/aws-kms-signer.js';
import { createGcpKmsSigner } from '../../src/signing/gcp-kms-signer.js';
import { assertRekorCompatible, createEphemeralSigner, createFulcioSigner, createSecretKeySigner, type ProvenantSigner } from '../../src/signing/index.js';
import { createPkcs11Signer } from '../../src/signing/pkcs11-signer.js';
import { createOciStorage } from '../../src/storage/index.js';
import { parseRun, type RunKey } from '../../src/tekton/index.js';
import { createRekorWitness, createTransparentBundler } from '../../src/transparency/index.js';
import { AWS_TEST_REGION, startAwsKmsServer, type AwsKmsTestServer } from '../support/aws-kms-server.js';
import { prepareCosignKeyless, type CosignKeyless, type CosignResult } from '../support/cosign-keyless.js';
import { debianTool } from '../support/debian-tools.js';
import { startGcpKmsServer, type GcpKmsTestServer } from '../support/gcp-kms-server.js';
import { pushTestImage, type PushedImage } from '../support/oci-image.js';
import { rekorV1Refusal } from '../support/rekor-v1-acceptance.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { startSoftHsm, type SoftHsm } from '../support/softhsm.js';
import { generateKey, jwt } from '../unit/signing/helpers.js';
import { imageTaskRun } from '../support/task-run.js';

const execFileAsync = promisify(execFile);
const logger = createSilentLogger();

const ISSUER = 'https://kubernetes.default.svc';
const SAN = 'https://kubernetes.io/namespaces/build/serviceaccounts/pipeline';

let dir: string;
let registry: RegistryHandle;
let sigstore: SigstoreMock;
let hsm: SoftHsm;
let aws: AwsKmsTestServer;
let gcp: GcpKmsTestServer;
let cosign: CosignKeyless;
const signed = new Map<string, { image: PushedImage; trust: Trust }>();
const file = (name: string): string => path.join(dir, name);

/** How cosign is told who signed: a public key file, or a keyless identity. */
type Trust = { key: string } | { identity: string; issuer: string };

/** The three cosign 2.5 checks: `verify` (.sig), `verify-attestation` (.att), `verify-attestation --new-bundle-format` (referrers). */
type Check = 'sig' | 'att' | 'bundle';

// Why cosign 2.5 rejects some rows. Each is pinned as a rejection, so a fix on either side shows up here.
// (Secret and PKCS#11 P-384 keys sign SHA-256 since issue 15, as cosign's key files and Chains' x509.pem do:
// those rows pass every check now.)
const COSIGN_KMS_P384 =
  'cosign 2.5 hashes with SHA-256 for every key file (verify-attestation has no --signature-digest-algorithm; sigstore/cosign#5091), ' +
  'while a KMS P-384 key can only sign SHA-384 (AWS ECDSA_SHA_384, GCP EC_SIGN_P384_SHA384); cosign verifies these with --key awskms://… instead';

interface SignerRow {
  readonly name: string;
  readonly format: FormatName;
  /** Log the signatures in the mock Rekor (cosign must then find and check the entry). */
  readonly tlog: boolean;
  /** `cosign verify` flag for a key that does not sign SHA-256 digests. */
  readonly digest?: 'sha384' | 'sha512';
  readonly rejects?: Partial<Record<Check, string>>;
  /** Which chains-config signer the key stands for (default x509). */
  readonly signerName?: 'x509' | 'kms';
  /** `artifacts.oci.signer: none`: attestations only, no image signature. */
  readonly noImageSignature?: boolean;
  /** The config error provenant refuses this row with at load (nothing is signed). */
  readonly refused?: 'SIGNING_KEY_TLOG_UNSUPPORTED';
  make(): Promise<{ signer: ProvenantSigner; trust: Trust }>;
}

async function keyFile(name: string, publicKeyPem: string): Promise<Trust> {
  await writeFile(file(`${name}.pub`), publicKeyPem);
  return { key: file(`${name}.pub`) };
}

async function secretKeyRow(name: string, type: 'p256' | 'p384' | 'ed25519'): Promise<{ signer: ProvenantSigner; trust: Trust }> {
  const secret = file(`secret-${name}`);
  await mkdir(secret);
  await writeFile(path.join(secret, 'x509.pem'), generateKey(type).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const signer = await createSecretKeySigner(secret, { logger });
  return { signer, trust: await keyFile(name, signer.publicKeyPem) };
}

async function awsP384Row(name: string): Promise<{ signer: ProvenantSigner; trust: Trust }> {
  const signer = await createAwsKmsSigner(`awskms:///${aws.keys.p384.alias}`, {
    logger,
    awsClientConfig: { endpoint: aws.url, region: AWS_TEST_REGION, maxAttempts: 1, credentials: { accessKeyId: 'AKIAPROVENANTTEST000', secretAccessKey: 'fake' } },
  });
  return { signer, trust: await keyFile(name, signer.publicKeyPem) };
}

const rows: readonly SignerRow[] = [
  { name: 'secret-p256', format: 'in-toto', tlog: true, make: () => secretKeyRow('secret-p256', 'p256') },
  { name: 'secret-p256-no-tlog', format: 'slsa/v2alpha3', tlog: false, make: () => secretKeyRow('secret-p256-no-tlog', 'p256') },
  { name: 'secret-p384', format: 'slsa/v2alpha4', tlog: true, make: () => secretKeyRow('secret-p384', 'p384') },
  { name: 'secret-p384-no-tlog', format: 'in-toto', tlog: false, make: () => secretKeyRow('secret-p384-no-tlog', 'p384') },
  // An ed25519 image signature cannot be logged in a form both Rekor (Ed25519ph/SHA-512 hashedrekord) and
  // cosign's .sig check (sha256 only) accept: refused at config load; its attestations log fine (dsse).
  { name: 'secret-ed25519', format: 'in-toto', tlog: true, refused: 'SIGNING_KEY_TLOG_UNSUPPORTED', make: () => secretKeyRow('secret-ed25519', 'ed25519') },
  { name: 'secret-ed25519-att-only', format: 'in-toto', tlog: true, noImageSignature: true, make: () => secretKeyRow('secret-ed25519-att-only', 'ed25519') },
  { name: 'secret-ed25519-no-tlog', format: 'slsa/v2alpha3', tlog: false, digest: 'sha512', make: () => secretKeyRow('secret-ed25519-no-tlog', 'ed25519') },
  {
    name: 'pkcs11',
    format: 'slsa/v2alpha3',
    tlog: true,
    signerName: 'kms',
    make: async () => {
      hsm.generateEcKey({ label: 'cosign', id: Buffer.from('c051', 'hex') });
      const signer = await createPkcs11Signer(`pkcs11:token=${hsm.tokenLabel};object=cosign?module-path=${hsm.modulePath}&pin-value=${hsm.pin}`, { logger });
      return { signer, trust: await keyFile('pkcs11', signer.publicKeyPem) };
    },
  },
  {
    name: 'pkcs11-p384',
    format: 'in-toto',
    tlog: true,
    signerName: 'kms',
    make: async () => {
      hsm.generateEcKey({ label: 'cosign-p384', id: Buffer.from('c384', 'hex'), curve: 'P-384' });
      const signer = await createPkcs11Signer(`pkcs11:token=${hsm.tokenLabel};object=cosign-p384?module-path=${hsm.modulePath}&pin-value=${hsm.pin}`, { logger });
      return { signer, trust: await keyFile('pkcs11-p384', signer.publicKeyPem) };
    },
  },
  {
    name: 'aws-kms',
    format: 'in-toto',
    tlog: true,
    signerName: 'kms',
    make: async () => {
      const signer = await createAwsKmsSigner(`awskms:///${aws.keys.p256.alias}`, {
        logger,
        awsClientConfig: { endpoint: aws.url, region: AWS_TEST_REGION, maxAttempts: 1, credentials: { accessKeyId: 'AKIAPROVENANTTEST000', secretAccessKey: 'fake' } },
      });
      return { signer, trust: await keyFile('aws-kms', signer.publicKeyPem) };
    },
  },
  {
    // KMS P-384 keys can only sign SHA-384 digests (ECDSA_SHA_384), which no Rekor v1 entry cosign reads accepts: refused with a log.
    name: 'aws-kms-p384',
    format: 'slsa/v2alpha3',
    tlog: true,
    signerName: 'kms',
    refused: 'SIGNING_KEY_TLOG_UNSUPPORTED',
    make: () => awsP384Row('aws-kms-p384'),
  },
  {
    // Without a log: cosign verifies the .sig with --signature-digest-algorithm sha384; its key-file attestation checks are SHA-256 only.
    name: 'aws-kms-p384-no-tlog',
    format: 'slsa/v2alpha3',
    tlog: false,
    signerName: 'kms',
    digest: 'sha384',
    rejects: { att: COSIGN_KMS_P384, bundle: COSIGN_KMS_P384 },
    make: () => awsP384Row('aws-kms-p384-no-tlog'),
  },
  {
    name: 'gcp-kms',
    format: 'slsa/v2alpha4',
    tlog: true,
    signerName: 'kms',
    make: async () => {
      const signer = await createGcpKmsSigner(`gcpkms://${gcp.versions.p256.name}`, {
        logger,
        gcpClientOptions: { apiEndpoint: '127.0.0.1', port: gcp.port, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' },
      });
      return { signer, trust: await keyFile('gcp-kms', signer.publicKeyPem) };
    },
  },
  {
    name: 'keyless',
    format: 'in-toto',
    tlog: true,
    make: async () => {
      const tokenFile = file('oidc-token');
      const claims = { iss: ISSUER, sub: 'system:serviceaccount:build:pipeline', aud: ['sigstore'], 'kubernetes.io': { namespace: 'build', serviceaccount: { name: 'pipeline' } } };
      await writeFile(tokenFile, jwt(claims));
      const signer = createFulcioSigner({ keyHolder: createEphemeralSigner(), fulcioUrl: sigstore.fulcioUrl, tokenFile, logger });
      return { signer, trust: { identity: SAN, issuer: ISSUER } };
    },
  },
];

function taskRun(image: PushedImage, uid: string): Record<string, unknown> {
  return imageTaskRun({ image: image.name, digest: image.digest, namespace: 'build', uid, times: { start: '2026-01-01T00:00:00Z', completion: '2026-01-01T00:01:00Z' } });
}

/** The chains-config of a row: its format, its signer for TaskRuns and images, transparency when it logs. */
function rowConfig(row: SignerRow): Config {
  const base = defaultConfig();
  const signer = row.signerName ?? 'x509';
  return {
    ...base,
    transparency: { ...base.transparency, mode: row.tlog ? 'true' : 'false' },
    artifacts: {
      ...base.artifacts,
      taskrun: { ...base.artifacts.taskrun, format: row.format, signer },
      oci: { ...base.artifacts.oci, signer: row.noImageSignature === true ? 'none' : signer },
    },
  };
}

/** What `provenant sign --storage oci` does for a TaskRun: sign, log and store each planned artifact. */
async function signAndStore(row: SignerRow, signer: ProvenantSigner, image: PushedImage): Promise<void> {
  const config = rowConfig(row);
  // What createSignerFromConfig checks at config load (provenant sign and the controller alike).
  assertRekorCompatible(config, row.signerName ?? 'x509', 'keyHolder' in signer ? signer.keyHolder.algorithm : signer.algorithm);
  const raw = taskRun(image, `uid-${row.name}`);
  const run = parseRun(raw);
  const key: RunKey = { kind: 'TaskRun', namespace: 'build', name: 'build', uid: run.uid };
  const witnesses = row.tlog ? [createRekorWitness({ url: sigstore.rekorUrl, logger })] : [];
  const storage = createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'both' }, logger, tagUpdate: { settleMs: 10 } });
  const plan = planArtifacts({ run, children: [], config });
  expect(plan.map((a) => a.type).sort()).toEqual(row.noImageSignature === true ? ['provenance'] : ['image-signature', 'provenance']);
  for (const artifact of plan) {
    const bundle = await createTransparentBundler({ signer, witnesses, logger }).create({
      kind: artifact.type === 'provenance' ? 'dsse' : 'message-signature',
      data: artifact.payload,
    });
    expect(bundle.verificationMaterial.tlogEntries ?? []).toHaveLength(row.tlog ? 1 : 0);
    // The mock Rekor does not verify signatures; a real Rekor v1 would, so check what it checks.
    if (row.tlog) expect(rekorV1Refusal(bundle, 'keyHolder' in signer ? signer.keyHolder.publicKeyPem : signer.publicKeyPem, Buffer.from(artifact.payload))).toBeUndefined();
    await storage.store({
      run: key,
      artifact: {
        type: artifact.type,
        shortKey: artifact.shortKey,
        subjects: artifact.subjects,
        ...(artifact.predicateType === undefined ? {} : { predicateType: artifact.predicateType }),
      },
      payload: artifact.payload,
      bundle,
    });
  }
}

/** cosign through the shared offline set-up (test/support/cosign-keyless.ts); oras with plain HTTP only. */
async function tool(name: 'cosign' | 'oras', args: string[]): Promise<CosignResult> {
  if (name === 'cosign') return cosign.run(args);
  try {
    const { stdout, stderr } = await execFileAsync(debianTool('oras'), args, { env: { PATH: '/usr/bin:/bin', HOME: dir }, timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: err.stdout ?? '', err: err.stderr ?? '' };
  }
}

function trustArgs(trust: Trust): string[] {
  return 'key' in trust ? ['--key', trust.key] : ['--certificate-identity', trust.identity, '--certificate-oidc-issuer', trust.issuer];
}

const predicateTypes: Record<FormatName, string> = {
  'in-toto': 'https://slsa.dev/provenance/v0.2',
  'slsa/v1': 'https://slsa.dev/provenance/v0.2',
  'slsa/v2alpha3': 'https://slsa.dev/provenance/v1',
  'slsa/v2alpha4': 'https://slsa.dev/provenance/v1',
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-cosign-'));
  [registry, sigstore, hsm, aws, gcp] = await Promise.all([startRegistry(), startSigstoreMock(), startSoftHsm(), startAwsKmsServer(), startGcpKmsServer()]);
  // Trusted root (without the `operator` fields cosign 2.5 rejects) and the SIGSTORE_* files of the legacy path.
  cosign = await prepareCosignKeyless(dir, sigstore);
}, 60_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop(), aws?.stop(), gcp?.stop()]);
  await hsm?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(rows)('cosign 2.5 verifies provenant output: $name', (row) => {
  let image: PushedImage;
  let trust: Trust;
  let refusal: unknown;

  beforeAll(async () => {
    image = await pushTestImage({ host: registry.host, repository: `cosign/${row.name}` });
    const made = await row.make();
    trust = made.trust;
    try {
      await signAndStore(row, made.signer, image);
      signed.set(row.name, { image, trust });
    } catch (err) {
      if (row.refused === undefined) throw err;
      refusal = err;
    } finally {
      await made.signer.close?.();
    }
  }, 60_000);

  if (row.refused !== undefined) {
    it('provenant refuses the key with a log at config load, with a typed config error', () => {
      expect(refusal).toMatchObject({ kind: 'config', code: row.refused });
    });
    return;
  }

  const registryArgs = ['--allow-insecure-registry', '--allow-http-registry'];

  async function check(name: Check): Promise<void> {
    const common = [...trustArgs(trust), ...(row.tlog ? [] : ['--insecure-ignore-tlog']), ...registryArgs];
    const args =
      name === 'sig'
        ? ['verify', ...common, ...(row.digest === undefined ? [] : ['--signature-digest-algorithm', row.digest]), image.ref]
        : name === 'att'
          ? ['verify-attestation', ...common, '--type', predicateTypes[row.format], image.ref]
          : ['verify-attestation', ...common, '--type', predicateTypes[row.format], '--new-bundle-format', '--trusted-root', cosign.files.trustedRoot, image.ref];
    const r = await tool('cosign', args);
    if (row.rejects?.[name] === undefined) {
      expect(r.code, r.err).toBe(0);
      if (name !== 'sig') expect(r.out).toContain('"payloadType":"application/vnd.in-toto+json"');
    } else {
      expect(r.code, `expected the documented rejection: ${row.rejects[name]}`).not.toBe(0);
      // cosign's own words for that reason (an external tool's message, so worth pinning).
      expect(r.err).toContain('accepted signatures do not match threshold');
    }
  }

  if (row.noImageSignature !== true) it('cosign verify: the legacy .sig (simple signing)', () => check('sig'));
  it('cosign verify-attestation: the legacy .att (DSSE layer)', () => check('att'));
  it('cosign verify-attestation --new-bundle-format: the Sigstore bundle referrer', () => check('bundle'));

  it('oras discover lists the bundle referrers', async () => {
    const r = await tool('oras', ['discover', '--plain-http', '--format', 'json', image.ref]);
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { manifests?: { artifactType?: string }[]; referrers?: { artifactType?: string }[] };
    const referrers = out.manifests ?? out.referrers ?? [];
    expect(referrers.map((m) => m.artifactType)).toEqual(Array(row.noImageSignature === true ? 1 : 2).fill('application/vnd.dev.sigstore.bundle.v0.3+json'));
  });
});

describe('cosign rejects what it should (the checks above are not vacuous)', () => {
  const registryArgs = ['--allow-insecure-registry', '--allow-http-registry'];
  const of = (name: string): { image: PushedImage; trust: Trust } => {
    const entry = signed.get(name);
    if (entry === undefined) throw new Error(`row ${name} did not sign`);
    return entry;
  };

  it('another key, another identity, or a required tlog entry that is missing', async () => {
    const p256 = of('secret-p256');
    const other = of('aws-kms').trust;
    expect((await tool('cosign', ['verify-attestation', ...trustArgs(other), ...registryArgs, '--type', 'slsaprovenance', p256.image.ref])).code).not.toBe(0);
    expect((await tool('cosign', ['verify', ...trustArgs(other), ...registryArgs, p256.image.ref])).code).not.toBe(0);

    const keyless = of('keyless');
    const wrongIdentity = { identity: 'https://kubernetes.io/namespaces/build/serviceaccounts/other', issuer: ISSUER };
    const bundleArgs = ['--new-bundle-format', '--trusted-root', cosign.files.trustedRoot];
    expect((await tool('cosign', ['verify-attestation', ...trustArgs(wrongIdentity), ...registryArgs, ...bundleArgs, '--type', 'slsaprovenance', keyless.image.ref])).code).not.toBe(0);
    expect((await tool('cosign', ['verify', ...trustArgs({ ...keyless.trust, issuer: 'https://evil.example' }), ...registryArgs, keyless.image.ref])).code).not.toBe(0);

    // A Secret P-384 key signs SHA-256 (not SHA-384): cosign checking its .sig as SHA-384 fails.
    const p384 = of('secret-p384-no-tlog');
    expect((await tool('cosign', ['verify', ...trustArgs(p384.trust), '--insecure-ignore-tlog', ...registryArgs, '--signature-digest-algorithm', 'sha384', p384.image.ref])).code).not.toBe(0);

    const noTlog = of('secret-p256-no-tlog');
    expect((await tool('cosign', ['verify', ...trustArgs(noTlog.trust), ...registryArgs, noTlog.image.ref])).code).not.toBe(0);
    expect((await tool('cosign', ['verify-attestation', ...trustArgs(noTlog.trust), ...registryArgs, ...bundleArgs, '--type', 'slsaprovenance1', noTlog.image.ref])).code).not.toBe(0);
  });

  it('cosign stayed offline: it never initialised a TUF root', () => {
    // TUF_ROOT points here, and HOME is the temp dir (cosign's default cache is ~/.sigstore).
    expect(existsSync(file('tuf')) ? readdirSync(file('tuf')) : []).toEqual([]);
    expect(existsSync(file('.sigstore'))).toBe(false);
  });
});
