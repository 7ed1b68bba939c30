import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createOciReader } from '../../src/storage/oci/index.js';
import { createManifestProbe, materialTarget, traceExitCode, traceImage, type TraceGraph, type TraceNode } from '../../src/verify/trace.js';
import { renderTraceDot } from '../../src/verify/trace-render.js';
import { renderTraceHtml } from '../../src/verify/trace-html.js';
import { createTestKey, pushTestImage, type TestKey } from '../support/oci-image.js';
import { freePort, startRegistry, type RegistryHandle } from '../support/services.js';
import { BUILDER_ID, SLSA_V02, SLSA_V1, seedSupplyChain, signAndAttach, type SupplyChain } from '../support/supply-chain.js';
import { runCaptured } from '../support/cli.js';

let registry: RegistryHandle;
let key: TestKey;
let wrongKey: TestKey;
let chain: SupplyChain;
let dir: string;
let keyFile: string;
let wrongKeyFile: string;

beforeAll(async () => {
  registry = await startRegistry();
  key = createTestKey();
  wrongKey = createTestKey();
  chain = await seedSupplyChain(registry.host, key, wrongKey);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-trace-'));
  keyFile = path.join(dir, 'cosign.pub');
  wrongKeyFile = path.join(dir, 'other.pub');
  await writeFile(keyFile, key.publicKeyPem);
  await writeFile(wrongKeyFile, wrongKey.publicKeyPem);
}, 30_000);

afterAll(async () => {
  await registry?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function trace(ref: string, options: { keys?: TestKey[]; maxDepth?: number } = {}): Promise<TraceGraph> {
  const logger = createSilentLogger();
  return traceImage(ref, {
    reader: createOciReader({ config: { repository: undefined, insecure: true }, logger }),
    manifestExists: createManifestProbe({ insecure: true, logger }),
    policies: (options.keys ?? [key]).map((k) => ({ key: k.publicKeyPem })),
    ...(options.maxDepth === undefined ? {} : { maxDepth: options.maxDepth }),
    logger,
  });
}

function node(graph: TraceGraph, ref: string): TraceNode {
  const n = graph.nodes.find((x) => x.ref === ref);
  if (n === undefined) throw new Error(`no node ${ref} in ${graph.nodes.map((x) => x.ref).join(', ')}`);
  return n;
}

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, out, err } = await runCaptured(['trace', ...argv], { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir });
  return { code, stdout: out, stderr: err };
}

describe('traceImage', () => {
  it('reports a verdict for every link of a three-level chain', async () => {
    const g = await trace(chain.app.ref);
    expect(g.root).toBe(`image:${chain.app.ref}`);
    const app = node(g, chain.app.ref);
    expect(app).toMatchObject({ kind: 'image', depth: 0, verdict: 'verified', builder: BUILDER_ID, buildType: 'tekton.dev/v1beta1/TaskRun', predicateType: SLSA_V02 });
    expect(app.signer).toMatch(/^key sha256:[a-f0-9]{16}$/);
    // 'both' stores every attestation twice (referrer + .att): counted once.
    expect(app.attestations).toBe(1);
    expect(node(g, chain.base.ref)).toMatchObject({ depth: 1, verdict: 'verified', predicateType: SLSA_V1, buildType: 'https://tekton.dev/chains/v2/slsa', builder: BUILDER_ID });
    expect(node(g, chain.stepBuild.ref)).toMatchObject({ depth: 1, verdict: 'verified' });
    expect(node(g, chain.stepPush.ref)).toMatchObject({ depth: 1, verdict: 'invalid-signature', reason: 'VERIFY_SIGNATURE_INVALID' });
    expect(node(g, chain.tools.ref)).toMatchObject({ depth: 1, verdict: 'unsigned', attestations: 0 });
    expect(node(g, chain.baseStep.ref)).toMatchObject({ depth: 2, verdict: 'verified' });
    expect(node(g, chain.rogue.ref)).toMatchObject({ depth: 2, verdict: 'identity-mismatch' });
    expect(node(g, chain.missingRef)).toMatchObject({ depth: 2, verdict: 'not-found' });
    const appGit = node(g, `${chain.appGit.uri}@${chain.appGit.digest['sha1']}`);
    expect(appGit).toMatchObject({ kind: 'git', depth: 1 });
    expect(appGit.verdict).toBeUndefined();
    // base's git is reached from base (depth 2) and from base-step (depth 3): one node, two links.
    const baseGitId = `git:${chain.baseGit.uri}@${chain.baseGit.digest['sha1']}`;
    expect(g.nodes.filter((n) => n.id === baseGitId)).toHaveLength(1);
    expect(g.edges.filter((e) => e.to === baseGitId)).toHaveLength(2);
    expect(g.edges).toContainEqual({ from: `image:${chain.app.ref}`, to: `image:${chain.base.ref}`, relation: 'material' });
    expect(g.edges).toContainEqual({ from: `image:${chain.base.ref}`, to: `image:${chain.baseStep.ref}`, relation: 'resolvedDependency' });
    // The tampered statement's extra material is never followed: unverified claims are not evidence.
    expect(g.nodes.some((n) => n.ref.includes('evil.example'))).toBe(false);
    expect(g.nodes).toHaveLength(10);
    expect(traceExitCode(g)).toBe(1);
  });

  it('verifies with any of several keys, and calls the root a mismatch under a foreign key', async () => {
    const both = await trace(chain.app.ref, { keys: [wrongKey, key] });
    expect(node(both, chain.rogue.ref).verdict).toBe('verified');
    const foreign = await trace(chain.app.ref, { keys: [wrongKey] });
    expect(node(foreign, chain.app.ref)).toMatchObject({ verdict: 'identity-mismatch', reason: 'VERIFY_KEY_MISMATCH' });
    expect(foreign.nodes).toHaveLength(1);
    expect(traceExitCode(foreign)).toBe(1);
  });

  it('links a cycle instead of walking it again', async () => {
    const g = await trace(chain.cycleA.ref);
    expect(g.nodes.map((n) => [n.ref, n.depth, n.verdict])).toEqual([
      [chain.cycleA.ref, 0, 'verified'],
      [chain.cycleB.ref, 1, 'verified'],
    ]);
    expect(g.edges).toEqual([
      { from: `image:${chain.cycleA.ref}`, to: `image:${chain.cycleB.ref}`, relation: 'material' },
      { from: `image:${chain.cycleB.ref}`, to: `image:${chain.cycleA.ref}`, relation: 'material' },
    ]);
    expect(traceExitCode(g)).toBe(0);
  });

  it('stops at the depth limit and marks where it stopped', async () => {
    const one = await trace(chain.app.ref, { maxDepth: 1 });
    expect(node(one, chain.base.ref)).toMatchObject({ verdict: 'verified', truncated: true });
    expect(one.nodes.some((n) => n.ref === chain.baseStep.ref || n.ref === chain.rogue.ref)).toBe(false);
    const zero = await trace(chain.app.ref, { maxDepth: 0 });
    expect(zero.nodes.filter((n) => n.kind === 'image')).toHaveLength(1);
    expect(node(zero, chain.app.ref).truncated).toBe(true);
    await expect(trace(chain.app.ref, { maxDepth: -1 })).rejects.toMatchObject({ code: 'TRACE_DEPTH_INVALID' });
  });

  it('reports a missing root as not found and an unreadable link as unreachable', async () => {
    const missing = await trace(chain.missingRef);
    expect(missing.nodes).toEqual([expect.objectContaining({ verdict: 'not-found' })]);
    expect(traceExitCode(missing)).toBe(1);

    const deadHost = `127.0.0.1:${await freePort()}`;
    const image = await pushTestImage({ host: registry.host, repository: 'acme/offline-dep' });
    await signAndAttach(key, image, [{ uri: `oci://${deadHost}/gone/image`, digest: { sha256: 'f'.repeat(64) } }]);
    const g = await trace(image.ref);
    expect(node(g, `${deadHost}/gone/image@sha256:${'f'.repeat(64)}`)).toMatchObject({ verdict: 'unreachable', reason: 'OCI_UNAVAILABLE' });
    expect(traceExitCode(g)).toBe(1);
    // An unreadable root is an error, not a verdict.
    await expect(trace(`${deadHost}/gone/image@sha256:${'f'.repeat(64)}`)).rejects.toMatchObject({ code: 'OCI_UNAVAILABLE' });
  });

  it('needs a policy and a digest reference', async () => {
    const logger = createSilentLogger();
    const deps = { reader: createOciReader({ config: { repository: undefined, insecure: true }, logger }), manifestExists: async () => true, logger };
    await expect(traceImage(chain.app.ref, { ...deps, policies: [] })).rejects.toMatchObject({ code: 'TRACE_POLICY_REQUIRED' });
    await expect(traceImage(`${registry.host}/acme/app:latest`, { ...deps, policies: [{ key: key.publicKeyPem }] })).rejects.toMatchObject({
      code: 'OCI_REFERENCE_INVALID',
    });
  });
});

describe('provenant trace', () => {
  it('prints a tree with a verdict per link, writes DOT and HTML, reports progress on stderr, exits 1 on a bad link', async () => {
    const dot = path.join(dir, 'trace.dot');
    const html = path.join(dir, 'trace.html');
    const r = await cli([chain.app.ref, '--key', keyFile, '--dot', dot, '--graph', html]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const line = (ref: string): string => lines.find((l) => l.includes(ref)) ?? '';
    expect(lines[0]).toContain(chain.app.ref);
    expect(lines[0]).toContain('✔ verified');
    expect(line(chain.stepPush.ref)).toContain('✘ invalid signature');
    expect(line(chain.tools.ref)).toContain('? unsigned');
    expect(line(chain.rogue.ref)).toContain('! identity mismatch');
    expect(line(chain.missingRef)).toContain('∅ not found');
    expect(line(chain.baseStep.ref)).toMatch(/└─ |├─ /);
    expect(line(chain.appGit.uri)).toContain('⎇ source');
    expect(r.stderr).toContain(`depth 0 ${chain.app.ref}`);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('trace: ['))).toHaveLength(8);

    const dotText = await readFile(dot, 'utf8');
    expect(dotText).toMatch(/^digraph provenant_trace \{/);
    expect(dotText.match(/->/g)).toHaveLength(10);
    expect(dotText).toContain(`"image:${chain.app.ref}" -> "image:${chain.base.ref}" [label="material"]`);
    expect(await readFile(html, 'utf8')).toMatch(/^<!doctype html>/);
  });

  it('prints the graph as JSON and exits 0 for a fully verified chain', async () => {
    const r = await cli([chain.baseStep.ref, '--key', keyFile, '-o', 'json']);
    expect(r.code).toBe(0);
    const g = JSON.parse(r.stdout) as TraceGraph;
    expect(g.nodes.map((n) => n.kind)).toEqual(['image', 'git']);
    expect(g.nodes[0]?.verdict).toBe('verified');
  });

  it('shows a revisited node once and references it after', async () => {
    const r = await cli([chain.cycleA.ref, '--key', keyFile]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.includes(chain.cycleA.ref))).toHaveLength(2);
    expect(r.stdout).toContain('↺');
  });

  it('exits 1 for an unsigned root and 2 for usage errors', async () => {
    expect((await cli([chain.tools.ref, '--key', keyFile])).code).toBe(1);
    expect((await cli([chain.app.ref])).code).toBe(2);
    expect((await cli([`${registry.host}/acme/app:latest`, '--key', keyFile])).code).toBe(2);
    expect((await cli([chain.app.ref, '--key', keyFile, '-o', 'yaml'])).code).toBe(2);
    expect((await cli([chain.app.ref, '--key', keyFile, '--max-depth', 'many'])).code).toBe(2);
    expect((await cli([chain.app.ref, '--key', path.join(dir, 'absent.pub')])).code).toBe(2);
    expect((await cli([chain.app.ref, '--certificate-identity', 'x'])).code).toBe(2);
    expect((await cli([chain.app.ref, '--certificate-identity', 'x', '--certificate-oidc-issuer', 'https://i'])).code).toBe(2);
    expect((await cli(['--help'])).code).toBe(0);
  });

  it('follows --max-depth and --key repeated', async () => {
    const r = await cli([chain.app.ref, '--key', keyFile, '--key', wrongKeyFile, '--max-depth', '1', '-o', 'json']);
    const g = JSON.parse(r.stdout) as TraceGraph;
    expect(g.maxDepth).toBe(1);
    expect(node(g, chain.base.ref).truncated).toBe(true);
    expect(r.code).toBe(1); // the tampered step image still fails
  });
});

describe('HTML graph', () => {
  it('renders every node with its verdict in headless Chromium', async () => {
    const g = await trace(chain.app.ref);
    const file = path.join(dir, 'graph.html');
    await writeFile(file, renderTraceHtml(g, { ok: traceExitCode(g) === 0, generatedAt: '2026-01-01T00:00:00.000Z' }));
    const profile = await mkdtemp(path.join(tmpdir(), 'provenant-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      viewport: { width: 1700, height: 760 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await context.newPage();
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${file}`);
      expect(await page.locator('svg g.node').count()).toBe(g.nodes.length);
      expect(await page.locator('svg path.edge').count()).toBe(g.edges.length);
      const verdictCount = (v: string): Promise<number> => page.locator(`svg g.node[data-verdict="${v}"]`).count();
      expect(await verdictCount('verified')).toBe(4);
      expect(await verdictCount('invalid-signature')).toBe(1);
      expect(await verdictCount('identity-mismatch')).toBe(1);
      expect(await verdictCount('unsigned')).toBe(1);
      expect(await verdictCount('not-found')).toBe(1);
      expect(await verdictCount('git')).toBe(2);
      const texts = await page.locator('svg g.node text.verdict').allTextContents();
      expect(texts).toEqual(expect.arrayContaining(['✔ verified', '✘ invalid signature', '! identity mismatch', '? unsigned', '∅ not found', '⎇ source']));
      expect(await page.locator('#result').getAttribute('class')).toContain('fail');
      expect(await page.locator('[data-legend="verified"] .count').textContent()).toBe('4');
      // The details panel shows the root first, then the clicked node.
      expect(await page.locator('#details').textContent()).toContain(chain.app.ref);
      await page.locator(`svg g.node[data-id="image:${chain.stepPush.ref}"]`).click();
      expect(await page.locator('#details').textContent()).toContain('VERIFY_SIGNATURE_INVALID');
      await page.locator(`svg g.node[data-id="image:${chain.app.ref}"]`).click();
      // Every node box is laid out inside the visible canvas (no overlap with another box).
      const boxes = await page.locator('svg g.node rect:first-of-type').evaluateAll((els) =>
        els.map((e) => {
          const r = e.getBoundingClientRect();
          return { x: r.x, y: r.y, w: r.width, h: r.height };
        }),
      );
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]!;
          const b = boxes[j]!;
          expect(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y).toBe(true);
        }
      }
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      const out = path.resolve('test-artifacts');
      await mkdir(out, { recursive: true });
      await page.screenshot({ path: path.join(out, 'trace.png'), fullPage: true });
      if (process.env['PROVENANT_UPDATE_DOCS_PICTURE'] === '1') await copyFile(path.join(out, 'trace.png'), path.resolve('docs/trace-example.png'));
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('materials and rendering of hostile input', () => {
  it('classifies material URIs', () => {
    const hex = 'a'.repeat(64);
    expect(materialTarget('oci://alpine', { sha256: hex })?.ref).toBe(`index.docker.io/library/alpine@sha256:${hex}`);
    expect(materialTarget(`gcr.io/p/img@sha256:${hex}`, {})).toMatchObject({ kind: 'image', ref: `gcr.io/p/img@sha256:${hex}` });
    expect(materialTarget('git+https://github.com/a/b.git', { sha1: 'c'.repeat(40) })).toMatchObject({ kind: 'git' });
    expect(materialTarget('https://example.com/f.tgz', { sha512: 'b'.repeat(128) })).toMatchObject({ kind: 'artifact' });
    expect(materialTarget('https://example.com/unpinned', {})).toBeUndefined();
    expect(materialTarget('oci://not a repo', { sha256: hex })).toMatchObject({ kind: 'artifact' }); // unparsable: shown, not traced
  });

  it('escapes statement text in HTML and DOT', () => {
    const evil = 'git+https://x/"><script>alert(1)</script>.git@' + 'c'.repeat(40);
    const g: TraceGraph = {
      root: 'image:r',
      maxDepth: 4,
      nodes: [
        { id: 'image:r', kind: 'image', ref: 'r@sha256:' + 'a'.repeat(64), depth: 0, verdict: 'verified', builder: '</script><script>alert(2)</script>' },
        { id: `git:${evil}`, kind: 'git', ref: evil, depth: 1 },
      ],
      edges: [{ from: 'image:r', to: `git:${evil}`, relation: 'material' }],
    };
    const html = renderTraceHtml(g, { ok: true });
    expect(html).not.toContain('<script>alert');
    expect(html.match(/<script/g)).toHaveLength(2); // the data block and the page script
    const dot = renderTraceDot(g);
    // The quote is escaped inside the DOT string, so it cannot end the label.
    expect(dot).toContain('x/\\"><script>');
    expect(dot).not.toContain('x/"');
  });
});
