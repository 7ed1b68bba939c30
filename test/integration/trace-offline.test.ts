/**
 * `trace` point 7: offline. `provenant export` writes a graph's attestations, signatures and manifests
 * to a directory; `trace --attestations DIR` then gives the same verdicts without the registry, with
 * `local` as the evidence source. Tampered files are caught.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceGraph } from '../../src/verify/index.js';
import { runCaptured } from '../support/cli.js';
import { createTestKey, type PushedImage } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { gitMaterial, signAndAttach } from '../support/supply-chain.js';
import { baseAnnotations, pushAnnotatedImage, signImage } from '../support/trace-images.js';

let registry: RegistryHandle;
let dir: string;
let keyFile: string;
const key = createTestKey();
const img: Record<string, PushedImage> = {};

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-trace-offline-'));
  img['base'] = await pushAnnotatedImage({ host: registry.host, repository: 'off/base' });
  img['app'] = await pushAnnotatedImage({ host: registry.host, repository: 'off/app', annotations: baseAnnotations(img['base']) });
  await Promise.all([
    signAndAttach(key, img['app'], [gitMaterial('app', 'a'.repeat(40))], { version: 'v1', encoding: 'both' }),
    signImage(key, img['app']),
    signAndAttach(key, img['base'], [], { encoding: 'dsse' }),
    signImage(key, img['base'], { encoding: 'sigstore-bundle' }),
  ]);
  keyFile = path.join(dir, 'key.pub');
  await writeFile(keyFile, key.publicKeyPem);
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const run = (argv: string[]): ReturnType<typeof runCaptured> => runCaptured(argv, { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir });

describe('offline trace', () => {
  it('exports a graph and traces it again from the directory alone', async () => {
    const exported = await run(['export', img['app']!.ref, '--key', keyFile, '--out', 'evidence']);
    expect(exported.code).toBe(0);
    expect(exported.out).toMatch(/exported 4 bundles and 2 manifests/);
    const offline = await run(['trace', img['app']!.ref, '--key', keyFile, '--attestations', 'evidence', '-o', 'json']);
    expect(offline.code).toBe(0);
    const g = JSON.parse(offline.out) as TraceGraph;
    const app = g.nodes.find((n) => n.ref === img['app']!.ref);
    const base = g.nodes.find((n) => n.ref === img['base']!.ref);
    expect(app).toMatchObject({ verdict: 'verified', source: 'local', signature: { verdict: 'verified', source: 'local' } });
    expect(base).toMatchObject({ verdict: 'verified', source: 'local', signature: { verdict: 'verified', source: 'local' } });
    expect(g.edges.some((e) => e.relation === 'base-image')).toBe(true);
    expect(g.nodes.some((n) => n.kind === 'git')).toBe(true);
  });

  it('catches a tampered bundle and ignores a manifest that does not match its digest', async () => {
    await run(['export', img['app']!.ref, '--key', keyFile, '--out', 'tampered']);
    const appDir = path.join(dir, 'tampered', img['app']!.digest.replace(':', '-'));
    for (const f of (await readdir(appDir)).filter((x) => x.endsWith('.bundle.json'))) {
      const bundle = JSON.parse(await readFile(path.join(appDir, f), 'utf8')) as { dsseEnvelope?: { payload: string } };
      if (bundle.dsseEnvelope === undefined) continue;
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as { predicate: { runDetails: { builder: { id: string } } } };
      statement.predicate.runDetails.builder.id = 'https://evil.example/builder';
      bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
      await writeFile(path.join(appDir, f), JSON.stringify(bundle));
    }
    const manifest = path.join(dir, 'tampered', 'manifests', `${img['app']!.digest.replace(':', '-')}.json`);
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('off/base', 'off/evil'));
    const r = await run(['trace', img['app']!.ref, '--key', keyFile, '--attestations', 'tampered', '-o', 'json']);
    const g = JSON.parse(r.out) as TraceGraph;
    expect(g.nodes[0]).toMatchObject({ verdict: 'invalid-signature', source: 'local', signature: { verdict: 'verified' } });
    expect(g.edges.some((e) => e.relation === 'base-image')).toBe(false);
    expect(r.code).toBe(1);
  });
});
