/**
 * `trace` point 3: discovery in Rekor. The registry holds the images but no attestation or signature;
 * the transparency log (the Rekor v1 stand-in behind the Sigstore mock) holds an `intoto` entry
 * (statement kept, indexed by subject digest) and a `hashedrekord` image signature (found by the digest
 * of the rebuilt simple-signing payload). Each entry is verified (SET, inclusion proof, body) against
 * the trusted root; each verdict says `rekor`; a tampered inclusion proof is caught.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, RekorWitness, type Signer } from '@sigstore/sign';
import { createSilentLogger } from '../../src/observability/logger.js';
import { simpleSigningPayload } from '../../src/provenance/index.js';
import { createOciReader } from '../../src/storage/oci/index.js';
import { createRekorReader } from '../../src/transparency/index.js';
import { createManifestReader, createRekorEvidence, traceImage, type TraceGraph } from '../../src/verify/index.js';
import { runCaptured } from '../support/cli.js';
import { createTestKey, pushTestImage, type PushedImage, type TestKey } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { provenanceStatement, gitMaterial } from '../support/supply-chain.js';

let registry: RegistryHandle;
let mock: SigstoreMock;
let dir: string;
const key = createTestKey();
const stranger = createTestKey();
const img: Record<string, PushedImage> = {};

async function logIntoto(signer: TestKey, image: PushedImage): Promise<void> {
  const payload = provenanceStatement(image, [gitMaterial('app', 'a'.repeat(40))]);
  const bundle: SerializedBundle = bundleToJSON(await new DSSEBundleBuilder({ signer: signer.signer, witnesses: [], certificateChain: false }).create({ data: Buffer.from(payload), type: 'application/vnd.in-toto+json' }));
  const env = bundle.dsseEnvelope!;
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const proposed = {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType: env.payloadType, payload: b64(env.payload), signatures: [{ sig: b64(env.signatures[0]!.sig), publicKey: b64(signer.publicKeyPem) }] },
        hash: { algorithm: 'sha256', value: 'a'.repeat(64) },
      },
    },
  };
  const r = await fetch(`${mock.rekorUrl}/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(proposed) });
  if (r.status !== 201) throw new Error(`intoto entry refused: ${r.status} ${await r.text()}`);
}

async function logSignature(signer: Signer, image: PushedImage): Promise<void> {
  const witnesses = [new RekorWitness({ rekorBaseURL: mock.rekorUrl, fetchOnConflict: true })];
  await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data: Buffer.from(simpleSigningPayload({ name: image.name, digest: image.digest })) });
}

beforeAll(async () => {
  [registry, mock] = await Promise.all([startRegistry(), startSigstoreMock()]);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-trace-rekor-'));
  img['app'] = await pushTestImage({ host: registry.host, repository: 'rk/app' });
  img['foreign'] = await pushTestImage({ host: registry.host, repository: 'rk/foreign' });
  await Promise.all([logIntoto(key, img['app']), logSignature(key.signer, img['app']), logIntoto(stranger, img['foreign'])]);
  await writeFile(path.join(dir, 'key.pub'), key.publicKeyPem);
  await writeFile(path.join(dir, 'trusted_root.json'), JSON.stringify(mock.trustedRoot));
}, 60_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), mock?.stop()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function trace(image: PushedImage): Promise<TraceGraph> {
  const logger = createSilentLogger();
  return traceImage(image.ref, {
    reader: createOciReader({ config: { repository: undefined, insecure: true }, logger }),
    manifests: createManifestReader({ insecure: true, logger }),
    evidence: [createRekorEvidence({ reader: createRekorReader({ baseUrl: mock.rekorUrl, trustedRoot: mock.trustedRoot }) })],
    policies: [{ key: key.publicKeyPem }],
    logger,
  });
}

describe('discovery in Rekor', () => {
  it('finds provenance (intoto) and the image signature (hashedrekord) by digest, verified, marked rekor', async () => {
    const g = await trace(img['app']!);
    expect(g.nodes[0]).toMatchObject({ verdict: 'verified', source: 'rekor', attestations: 1, signature: { verdict: 'verified', source: 'rekor' } });
    expect(g.nodes.some((n) => n.kind === 'git')).toBe(true);
  });

  it('tells a foreign signer and a log entry that does not verify apart', async () => {
    expect((await trace(img['foreign']!)).nodes[0]).toMatchObject({ verdict: 'identity-mismatch', reason: 'VERIFY_KEY_MISMATCH', source: 'rekor' });
    mock.rekor.tamperInclusionProofs(true);
    try {
      const g = await trace(img['app']!);
      expect(g.nodes[0]).toMatchObject({ verdict: 'invalid-signature', reason: 'TLOG_ENTRY_INVALID', source: 'rekor', signature: { verdict: 'unsigned' } });
    } finally {
      mock.rekor.tamperInclusionProofs(false);
    }
  });

  it('searches Rekor from the CLI with --rekor-url and the trusted root', async () => {
    const r = await runCaptured(['trace', img['app']!.ref, '--key', path.join(dir, 'key.pub'), '--trusted-root', path.join(dir, 'trusted_root.json'), '--rekor-url', mock.rekorUrl, '-o', 'json'], {
      env: { PROVENANT_LOG_LEVEL: 'silent' },
      cwd: dir,
    });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as TraceGraph).nodes[0]).toMatchObject({ verdict: 'verified', source: 'rekor' });
    expect((await runCaptured(['trace', img['app']!.ref, '--key', path.join(dir, 'key.pub'), '--rekor-url', mock.rekorUrl], { env: {}, cwd: dir })).code).toBe(2);
    // Exported with their log entries, Rekor's attestation and signature trace offline too.
    const common = ['--key', path.join(dir, 'key.pub'), '--trusted-root', path.join(dir, 'trusted_root.json')];
    expect((await runCaptured(['export', img['app']!.ref, ...common, '--rekor-url', mock.rekorUrl, '--out', 'ev'], { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir })).code).toBe(0);
    const offline = await runCaptured(['trace', img['app']!.ref, ...common, '--attestations', 'ev', '-o', 'json'], { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir });
    expect((JSON.parse(offline.out) as TraceGraph).nodes[0]).toMatchObject({ verdict: 'verified', source: 'local', signature: { verdict: 'verified', source: 'local' } });
  });
});
