import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isProvenantError } from '../../../src/errors.js';
import {
  baseImageOf,
  buildVsa,
  globToRegExp,
  hostPlatform,
  imageIdRef,
  parseTrustPolicy,
  parseWorkloadRef,
  platformManifests,
  podContainers,
  ruleFor,
  splitSignedCommit,
  vsaPredicateType,
} from '../../../src/verify/index.js';

const hex = (c: string): string => c.repeat(64);

describe('trust policy', () => {
  it('matches globs by path segment', () => {
    expect(globToRegExp('ghcr.io/acme/*').test('ghcr.io/acme/app')).toBe(true);
    expect(globToRegExp('ghcr.io/acme/*').test('ghcr.io/acme/team/app')).toBe(false);
    expect(globToRegExp('ghcr.io/acme/**').test('ghcr.io/acme/team/app')).toBe(true);
    expect(globToRegExp('127.0.0.1:*/x').test('127.0.0.1:5000/x')).toBe(true);
  });

  it('parses rules, resolves key files, and picks the first matching rule or the default', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'provenant-policy-'));
    try {
      await writeFile(path.join(dir, 'k.pub'), '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n');
      const policy = await parseTrustPolicy(
        `rules:
  - name: apps
    images: ["ghcr.io/acme/*"]
    identities:
      - keyless: {subjectRegExp: "^https://github.com/acme/", issuer: "https://token.actions.githubusercontent.com", extensions: {githubWorkflowRepository: acme/app, "1.3.6.1.4.1.57264.1.14": {regexp: "^refs/tags/"}}}
    builderIds: [b]
  - name: src
    git: ["https://github.com/acme/*"]
    identities:
      - ssh: "ssh-ed25519 AAAA dev"
default:
  identities:
    - key: k.pub
`,
        { baseDir: dir, trustedRoot: { tlogs: [{ baseUrl: 'https://rekor.example' }] } },
      );
      const apps = ruleFor(policy, 'image', `ghcr.io/acme/app@sha256:${hex('a')}`);
      expect(apps?.name).toBe('apps');
      expect(apps?.identities[0]?.extensions?.['1.3.6.1.4.1.57264.1.5']).toBe('acme/app');
      expect(ruleFor(policy, 'git', `git+https://github.com/acme/app.git@${'b'.repeat(40)}`)?.sshKeys).toEqual(['ssh-ed25519 AAAA dev']);
      expect(ruleFor(policy, 'image', `docker.io/other/x@sha256:${hex('a')}`)?.name).toBe('default');
      expect(policy.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists every problem of an invalid file in one input error', async () => {
    const err = await parseTrustPolicy('rules:\n  - identities: [{keyless: {issuer: x}}, {key: missing.pub}]\n    colour: red\n', { baseDir: '/nonexistent' }).catch((e: unknown) => e);
    expect(isProvenantError(err, 'TRACE_POLICY_INVALID')).toBe(true);
    expect((err as { context: { problems: string[] } }).context.problems.length).toBeGreaterThanOrEqual(4);
  });
});

describe('manifests', () => {
  it('reads the OCI base-image annotations', () => {
    const m = { annotations: { 'org.opencontainers.image.base.name': 'docker.io/library/alpine:3.20', 'org.opencontainers.image.base.digest': `sha256:${hex('c')}` } };
    expect(baseImageOf(m)).toEqual({ registry: 'index.docker.io', repository: 'library/alpine', digest: `sha256:${hex('c')}` });
    expect(baseImageOf({ annotations: { 'org.opencontainers.image.base.name': 'alpine' } })).toBeUndefined();
  });

  it('selects index manifests by platform and skips attestation manifests', () => {
    const index = {
      manifests: [
        { digest: 'sha256:1', platform: { os: 'linux', architecture: 'amd64' } },
        { digest: 'sha256:2', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { digest: 'sha256:3', platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
      ],
    };
    expect(platformManifests(index, 'linux/arm64').map((m) => m.digest)).toEqual(['sha256:2']);
    expect(platformManifests(index, 'all')).toHaveLength(2);
    expect(hostPlatform('x64')).toBe('linux/amd64');
  });
});

describe('commits and workloads', () => {
  it('splits a signed commit into payload and signature', () => {
    const raw = 'tree t\nauthor a\ngpgsig -----BEGIN SSH SIGNATURE-----\n abc\n -----END SSH SIGNATURE-----\ncommitter c\n\nmsg\n';
    expect(splitSignedCommit(raw)).toEqual({ payload: 'tree t\nauthor a\ncommitter c\n\nmsg\n', signature: '-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n' });
    expect(splitSignedCommit('tree t\n\nmsg\n').signature).toBeUndefined();
  });

  it('parses workload references and pinned container images', () => {
    expect(parseWorkloadRef('deploy/web')).toEqual({ kind: 'deployment', name: 'web' });
    expect(parseWorkloadRef(`registry/app@sha256:${hex('a')}`)).toBeUndefined();
    expect(imageIdRef(`docker-pullable://r.example/app@sha256:${hex('a')}`)).toBe(`r.example/app@sha256:${hex('a')}`);
    expect(imageIdRef('sha256:abc')).toBeUndefined();
    const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'x' }] }, status: { containerStatuses: [{ name: 'a', imageID: `docker-pullable://r/x@sha256:${hex('d')}` }] } };
    expect(podContainers(pod)).toEqual([{ name: 'p/a', image: `r/x@sha256:${hex('d')}` }]);
  });
});

describe('verification summary', () => {
  it('builds a SLSA VSA v1 statement about the image', () => {
    const statement = JSON.parse(
      Buffer.from(
        buildVsa({
          resource: { name: 'r/app', digest: `sha256:${hex('e')}` },
          passed: true,
          inputAttestations: [{ uri: 'r/app#attestation', digest: `sha256:${hex('f')}` }],
          policy: { uri: 'provenant:trace-flags', digest: `sha256:${hex('0')}` },
          verifiedLevels: ['SLSA_BUILD_LEVEL_2'],
          timeVerified: new Date('2026-11-30T00:00:00Z'),
          verifierVersion: '0.1.0',
        }),
      ).toString('utf8'),
    ) as { predicateType: string; subject: unknown; predicate: Record<string, unknown> };
    expect(statement.predicateType).toBe(vsaPredicateType);
    expect(statement.subject).toEqual([{ name: 'r/app', digest: { sha256: hex('e') } }]);
    expect(statement.predicate).toMatchObject({ verificationResult: 'PASSED', resourceUri: `r/app@sha256:${hex('e')}`, timeVerified: '2026-11-30T00:00:00.000Z' });
  });
});
