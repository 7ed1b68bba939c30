/**
 * `trace` point 5: source commits named by verified provenance are checked in a local clone (file://
 * URL or `--source URL=DIR`): SSH-signed and gitsign-signed (real gitsign 0.13, mock Fulcio + Rekor)
 * commits against the policy's identities; unsigned, missing, tampered and foreign-signed counterparts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createOciReader } from '../../src/storage/oci/index.js';
import { createCommitChecker, createManifestReader, parseTrustPolicy, renderTraceText, traceExitCode, traceImage, type TraceGraph } from '../../src/verify/index.js';
import { runCaptured } from '../support/cli.js';
import { startFulcioV1Adapter, type FulcioV1Adapter } from '../support/fulcio-v1.js';
import { GITSIGN_ISSUER, commitGitsign, commitSsh, commitUnsigned, createSshKey, initRepo, tamperCommit } from '../support/git-commits.js';
import { createTestKey, pushTestImage, type PushedImage } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { signAndAttach, type Material } from '../support/supply-chain.js';

let registry: RegistryHandle;
let mock: SigstoreMock;
let adapter: FulcioV1Adapter;
let dir: string;
let repo: string;
let image: PushedImage;
let policyFile: string;
const key = createTestKey();
const sha: Record<string, string> = {};

beforeAll(async () => {
  [registry, mock] = await Promise.all([startRegistry(), startSigstoreMock()]);
  adapter = await startFulcioV1Adapter(mock.url);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-trace-source-'));
  repo = initRepo(path.join(dir, 'repo'));
  const dev = createSshKey(dir, 'dev');
  const stranger = createSshKey(dir, 'stranger');
  sha['ssh'] = commitSsh(repo, dev, 'ssh signed');
  sha['sshForeign'] = commitSsh(repo, stranger, 'signed by a stranger');
  sha['unsigned'] = commitUnsigned(repo, 'not signed');
  const setup = { fulcioUrl: adapter.url, rekorUrl: mock.url, trustedRoot: mock.trustedRoot, dir };
  sha['gitsign'] = await commitGitsign(repo, setup, 'dev@example.com', 'gitsign signed');
  sha['gitsignForeign'] = await commitGitsign(repo, setup, 'intruder@example.com', 'gitsign by someone else');
  sha['tampered'] = tamperCommit(repo, sha['ssh'], 'message changed after signing');
  sha['gitsignTampered'] = tamperCommit(repo, sha['gitsign'], 'message changed after signing');
  sha['missing'] = 'f'.repeat(40);
  const url = `git+${pathToFileURL(repo).href}`;
  const materials: Material[] = Object.values(sha).map((s) => ({ uri: url, digest: { sha1: s } }));
  // The same commit through an https URL mapped with --source.
  materials.push({ uri: 'git+https://github.com/acme/app.git', digest: { sha1: sha['ssh'] } });
  image = await pushTestImage({ host: registry.host, repository: 'src/app' });
  await signAndAttach(key, image, materials, { encoding: 'both' });
  await writeFile(path.join(dir, 'key.pub'), key.publicKeyPem);
  await writeFile(path.join(dir, 'trusted_root.json'), JSON.stringify(mock.trustedRoot));
  policyFile = path.join(dir, 'policy.yaml');
  await writeFile(
    policyFile,
    `trustedRoot: trusted_root.json
rules:
  - name: sources
    git: ["file:///**", "https://github.com/acme/*"]
    identities:
      - ssh: "${dev.publicKey}"
      - keyless: {subject: dev@example.com, issuer: "${GITSIGN_ISSUER}"}
default:
  identities:
    - key: key.pub
`,
  );
}, 90_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), mock?.stop(), adapter?.stop()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function trace(): Promise<TraceGraph> {
  const logger = createSilentLogger();
  const { readFile } = await import('node:fs/promises');
  return traceImage(image.ref, {
    reader: createOciReader({ config: { repository: undefined, insecure: true }, logger }),
    manifests: createManifestReader({ insecure: true, logger }),
    trust: await parseTrustPolicy(await readFile(policyFile, 'utf8'), { baseDir: dir }),
    checkCommit: createCommitChecker({ sources: new Map([['https://github.com/acme/app', repo]]), rekorUrl: mock.url }),
    logger,
  });
}

const commit = (g: TraceGraph, s: string, prefix = 'git:git+file://'): Record<string, unknown> | undefined =>
  g.nodes.find((n) => n.kind === 'git' && n.ref.endsWith(`@${s}`) && n.id.startsWith(prefix)) as Record<string, unknown> | undefined;

describe('source commits', () => {
  it('gives each commit a verdict under the policy', async () => {
    const g = await trace();
    expect(commit(g, sha['ssh']!)).toMatchObject({ verdict: 'signed-commit', rule: 'sources', source: 'local' });
    expect(commit(g, sha['ssh']!)?.['signer']).toMatch(/^ssh SHA256:/);
    expect(commit(g, sha['ssh']!, 'git:git+https://github.com/acme/app.git')).toMatchObject({ verdict: 'signed-commit' });
    expect(commit(g, sha['gitsign']!)).toMatchObject({ verdict: 'signed-commit', signer: `gitsign dev@example.com (${GITSIGN_ISSUER})` });
    expect(commit(g, sha['unsigned']!)).toMatchObject({ verdict: 'unsigned-commit' });
    expect(commit(g, sha['missing']!)).toMatchObject({ verdict: 'commit-not-found', reason: 'TRACE_COMMIT_NOT_FOUND' });
    expect(commit(g, sha['sshForeign']!)).toMatchObject({ verdict: 'identity-mismatch', reason: 'VERIFY_KEY_MISMATCH' });
    expect(commit(g, sha['gitsignForeign']!)).toMatchObject({ verdict: 'identity-mismatch', reason: 'VERIFY_IDENTITY_MISMATCH' });
    expect(commit(g, sha['tampered']!)).toMatchObject({ verdict: 'invalid-signature' });
    expect(commit(g, sha['gitsignTampered']!)).toMatchObject({ verdict: 'invalid-signature', reason: 'VERIFY_SIGNATURE_INVALID' });
    expect(renderTraceText(g)).toContain('✔ signed commit by ssh SHA256:');
    expect(traceExitCode(g)).toBe(1);
  });

  it('maps a URL to a clone with --source on the CLI', async () => {
    const r = await runCaptured(['trace', image.ref, '--policy', policyFile, '--source', `https://github.com/acme/app=${repo}`, '-o', 'json'], {
      env: { PROVENANT_LOG_LEVEL: 'silent' },
      cwd: dir,
    });
    const g = JSON.parse(r.out) as TraceGraph;
    expect(commit(g, sha['ssh']!, 'git:git+https://github.com/acme/app.git')).toMatchObject({ verdict: 'signed-commit' });
    expect(r.code).toBe(1);
  });
});
