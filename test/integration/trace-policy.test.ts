/**
 * `trace --policy`: each link verified under its own rule. The application image is signed keylessly
 * by a GitHub Actions workflow (mock Fulcio, GitHub-style claims → certificate extensions) with
 * GitHub-builder provenance; its base image is signed and attested with a key by a Tekton build.
 * A wrong identity on one link marks that link only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, type Signer } from '@sigstore/sign';
import { createSilentLogger } from '../../src/observability/logger.js';
import { simpleSigningPayload } from '../../src/provenance/index.js';
import { createOciReader } from '../../src/storage/oci/index.js';
import { createManifestReader, parseTrustPolicy, traceExitCode, traceImage, type TraceGraph, type TraceNode, type TrustPolicy } from '../../src/verify/index.js';
import { runCaptured } from '../support/cli.js';
import { createTestKey, type PushedImage } from '../support/oci-image.js';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { BUILDER_ID, SLSA_V1, attach, signAndAttach } from '../support/supply-chain.js';
import { baseAnnotations, pushAnnotatedImage, signImage, storeImageSignature } from '../support/trace-images.js';

const GH_ISSUER = 'https://token.actions.githubusercontent.com';
const GH_BUILDER = 'https://github.com/actions/runner/github-hosted';
const workflow = (repo: string): string => `https://github.com/${repo}/.github/workflows/build.yml@refs/heads/main`;

function githubToken(repo: string): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const claims = {
    iss: GH_ISSUER,
    sub: workflow(repo),
    aud: 'sigstore',
    repository: repo,
    ref: 'refs/heads/main',
    sha: 'c'.repeat(40),
    workflow_ref: `${repo}/.github/workflows/build.yml@refs/heads/main`,
    event_name: 'push',
  };
  return `${enc({ alg: 'RS256' })}.${enc(claims)}.c2ln`;
}

let registry: RegistryHandle;
let mock: SigstoreMock;
let dir: string;
const tektonKey = createTestKey();
const img: Record<string, PushedImage> = {};

const fulcio = (repo: string): Signer => new FulcioSigner({ identityProvider: { getToken: async () => githubToken(repo) }, fulcioBaseURL: mock.fulcioUrl });
const witness = (): RekorWitness[] => [new RekorWitness({ rekorBaseURL: mock.rekorUrl, entryType: 'dsse', fetchOnConflict: true })];

function githubProvenance(image: PushedImage, builder = GH_BUILDER): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: SLSA_V1,
      subject: [{ name: image.name, digest: { sha256: image.hex } }],
      predicate: {
        buildDefinition: {
          buildType: 'https://actions.github.io/buildtypes/workflow/v1',
          externalParameters: { workflow: { ref: 'refs/heads/main', repository: 'https://github.com/acme/app', path: '.github/workflows/build.yml' } },
          resolvedDependencies: [{ uri: 'git+https://github.com/acme/app@refs/heads/main', digest: { gitCommit: 'c'.repeat(40) } }],
        },
        runDetails: { builder: { id: builder }, metadata: {} },
      },
    }),
  );
}

async function githubBuild(image: PushedImage, repo: string, builder = GH_BUILDER): Promise<void> {
  const payload = githubProvenance(image, builder);
  const dsse = new DSSEBundleBuilder({ signer: fulcio(repo), witnesses: witness(), certificateChain: false });
  const bundle = bundleToJSON(await dsse.create({ data: Buffer.from(payload), type: 'application/vnd.in-toto+json' }));
  await attach(image, bundle, payload, 'both', SLSA_V1);
  const sigPayload = simpleSigningPayload({ name: image.name, digest: image.digest });
  const message = new MessageSignatureBundleBuilder({ signer: fulcio(repo), witnesses: [new RekorWitness({ rekorBaseURL: mock.rekorUrl, fetchOnConflict: true })] });
  await storeImageSignature(image, bundleToJSON(await message.create({ data: Buffer.from(sigPayload) })) as SerializedBundle, sigPayload, 'both');
}

let policyFile: string;
let policy: TrustPolicy;

beforeAll(async () => {
  [registry, mock] = await Promise.all([startRegistry(), startSigstoreMock()]);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-trace-policy-'));
  const host = registry.host;
  img['base'] = await pushAnnotatedImage({ host, repository: 'tekton/base' });
  img['app'] = await pushAnnotatedImage({ host, repository: 'gh/app', annotations: baseAnnotations(img['base']) });
  img['fork'] = await pushAnnotatedImage({ host, repository: 'gh/fork', annotations: baseAnnotations(img['base']) });
  img['tektonBuilt'] = await pushAnnotatedImage({ host, repository: 'gh/odd', annotations: baseAnnotations(img['base']) });
  await Promise.all([
    signAndAttach(tektonKey, img['base'], [], { version: 'v1', encoding: 'both' }),
    signImage(tektonKey, img['base']),
    githubBuild(img['app'], 'acme/app'),
    // Same issuer and the subject regexp matches, but the workflow ran in another repository.
    githubBuild(img['fork'], 'evil/app'),
    // Right identity, wrong builder for this rule.
    githubBuild(img['tektonBuilt'], 'acme/app', BUILDER_ID),
  ]);
  await writeFile(path.join(dir, 'tekton.pub'), tektonKey.publicKeyPem);
  await writeFile(path.join(dir, 'trusted_root.json'), JSON.stringify(mock.trustedRoot));
  policyFile = path.join(dir, 'policy.yaml');
  await writeFile(
    policyFile,
    `apiVersion: provenant.dev/v1alpha1
kind: TracePolicy
trustedRoot: trusted_root.json
rules:
  - name: github-apps
    images: ["${host}/gh/*"]
    identities:
      - keyless:
          subjectRegExp: '^https://github\\.com/[^/]+/app/\\.github/workflows/'
          issuer: ${GH_ISSUER}
          extensions:
            githubWorkflowRepository: acme/app
            1.3.6.1.4.1.57264.1.14: refs/heads/main
    predicateTypes: [${SLSA_V1}]
    builderIds: [${GH_BUILDER}]
  - name: tekton-base
    images: ["${host}/tekton/**"]
    identities:
      - key: tekton.pub
    builderIds: [${BUILDER_ID}]
`,
  );
  policy = await parseTrustPolicy(await import('node:fs/promises').then((fs) => fs.readFile(policyFile, 'utf8')), { baseDir: dir });
}, 60_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), mock?.stop()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function trace(ref: string): Promise<TraceGraph> {
  const logger = createSilentLogger();
  return traceImage(ref, {
    reader: createOciReader({ config: { repository: undefined, insecure: true }, logger }),
    manifests: createManifestReader({ insecure: true, logger }),
    trust: policy,
    logger,
  });
}

const node = (g: TraceGraph, image: PushedImage): TraceNode | undefined => g.nodes.find((n) => n.ref === image.ref);

describe('trace policy', () => {
  it('verifies a GitHub-built app on a Tekton-built base, each under its own rule', async () => {
    const g = await trace(img['app']!.ref);
    expect(node(g, img['app']!)).toMatchObject({
      verdict: 'verified',
      rule: 'github-apps',
      builder: GH_BUILDER,
      signer: `${workflow('acme/app')} (${GH_ISSUER})`,
      signature: { verdict: 'verified', signer: `${workflow('acme/app')} (${GH_ISSUER})` },
    });
    expect(node(g, img['base']!)).toMatchObject({ verdict: 'verified', rule: 'tekton-base', builder: BUILDER_ID, signature: { verdict: 'verified' } });
    expect(traceExitCode(g)).toBe(0);
  });

  it('marks only the link whose certificate names another workflow repository', async () => {
    const g = await trace(img['fork']!.ref);
    expect(node(g, img['fork']!)).toMatchObject({ verdict: 'identity-mismatch', reason: 'VERIFY_IDENTITY_MISMATCH', signature: { verdict: 'identity-mismatch' } });
    expect(node(g, img['base']!)).toMatchObject({ verdict: 'verified', rule: 'tekton-base' });
    expect(traceExitCode(g)).toBe(1);
  });

  it('reports a verified statement from the wrong builder as a policy violation', async () => {
    const g = await trace(img['tektonBuilt']!.ref);
    expect(node(g, img['tektonBuilt']!)).toMatchObject({ verdict: 'policy-violation', reason: 'POLICY_BUILDER_MISMATCH', signature: { verdict: 'verified' } });
    expect(node(g, img['base']!)).toMatchObject({ verdict: 'verified' });
  });

  it('runs from the CLI with --policy, and refuses an invalid policy file with exit 2', async () => {
    const ok = await runCaptured(['trace', img['app']!.ref, '--policy', policyFile, '-o', 'json'], { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir });
    expect(ok.code).toBe(0);
    const graph = JSON.parse(ok.out) as TraceGraph;
    expect(graph.nodes.filter((n) => n.kind === 'image').map((n) => n.rule)).toEqual(['github-apps', 'tekton-base']);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'rules:\n  - images: ["x/*"]\n    identities:\n      - keyless: {issuer: x}\n    colour: blue\n');
    const refused = await runCaptured(['trace', img['app']!.ref, '--policy', bad], { env: { PROVENANT_LOG_LEVEL: 'silent' }, cwd: dir });
    expect(refused.code).toBe(2);
  });
});
