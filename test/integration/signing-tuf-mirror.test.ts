import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { createCapturingLogger } from '../../src/observability/index.js';
import { createSignerFromConfig } from '../../src/signing/index.js';
import { signStatement } from '../../src/signing/bundle.js';
import { fetchTrustedRootFromMirror } from '../../src/signing/tuf-trust.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { startTufRepo, type TufTestRepo } from '../support/tuf-repo.js';
import { jwt, secretDir, statement } from '../unit/signing/helpers.js';
import { rejection } from '../support/rejection.js';

let mock: SigstoreMock;
let other: SigstoreMock;
let repo: TufTestRepo;

beforeAll(async () => {
  [mock, other, repo] = await Promise.all([startSigstoreMock(), startSigstoreMock(), startTufRepo()]);
});
afterAll(async () => {
  await Promise.all([mock.stop(), other.stop(), repo.stop()]);
});

const cacheDir = (): Promise<string> => mkdtemp(path.join(tmpdir(), 'tuf-cache-'));

describe('signers.x509.tuf.mirror.url through @sigstore/tuf against a local TUF repository', () => {
  it('trust on first use of <mirror>/root.json, then follows a root rotation; an expired timestamp is a typed error, not a fallback', async () => {
    const cachePath = await cacheDir();
    repo.publishTrustedRoot(mock.trustedRoot);
    const first = await fetchTrustedRootFromMirror({ mirrorUrl: repo.url, cachePath });
    expect(first.certificateAuthorities).toHaveLength((mock.trustedRoot['certificateAuthorities'] as unknown[]).length);

    // New root (new root and timestamp keys, cross-signed) and new trust material.
    repo.rotateRoot();
    repo.publishTrustedRoot(other.trustedRoot);
    const before = repo.fetched.length;
    const second = await fetchTrustedRootFromMirror({ mirrorUrl: repo.url, cachePath });
    expect(repo.fetched.slice(before)).toContain('/2.root.json');
    expect(repo.fetched.slice(before)).not.toContain('/root.json'); // the cached root is the anchor now
    expect(Buffer.from(second.certificateAuthorities[0]!.certChain!.certificates[0]!.rawBytes).toString('base64')).toBe(
      ((other.trustedRoot['certificateAuthorities'] as Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>)[0]!.certChain.certificates[0]!.rawBytes),
    );

    repo.expireTimestamp();
    const cached = await rejection(fetchTrustedRootFromMirror({ mirrorUrl: repo.url, cachePath }));
    expect([cached.kind, cached.code]).toEqual(['transient', 'TUF_METADATA_EXPIRED']);
    const fresh = await rejection(fetchTrustedRootFromMirror({ mirrorUrl: repo.url, cachePath: await cacheDir() }));
    expect(fresh.code).toBe('TUF_METADATA_EXPIRED');
    // Put the repository back for the next test.
    repo.publishTrustedRoot(mock.trustedRoot);
  });

  it('a mirror that does not answer, or serves no root.json → TUF_UNAVAILABLE', async () => {
    const err = await rejection(fetchTrustedRootFromMirror({ mirrorUrl: 'http://127.0.0.1:9', cachePath: await cacheDir() }));
    expect([err.kind, err.code]).toEqual(['transient', 'TUF_UNAVAILABLE']);
    const missing = await rejection(fetchTrustedRootFromMirror({ mirrorUrl: `${repo.url}/nothing-here`, cachePath: await cacheDir() }));
    expect([missing.kind, missing.code]).toEqual(['config', 'TUF_UNAVAILABLE']);
  });

  it('keyless signing checks each Fulcio certificate against the CAs of the mirror trusted root', async () => {
    const token = jwt({ iss: 'https://kubernetes.default.svc', sub: 'system:serviceaccount:build:pipeline', aud: ['sigstore'], 'kubernetes.io': { namespace: 'build', serviceaccount: { name: 'pipeline' } } });
    const tokenFile = path.join(await secretDir({ 'oidc-token': token }), 'oidc-token');
    const config = (fulcio: string) =>
      parseConfig({
        'signers.x509.fulcio.enabled': 'true',
        'signers.x509.fulcio.address': fulcio,
        'signers.x509.identity.token.file': tokenFile,
        'signers.x509.tuf.mirror.url': repo.url,
        'transparency.enabled': 'true',
      }).config;
    const { logger } = createCapturingLogger();
    const env = { TUF_ROOT: await cacheDir() };
    const payload = Buffer.from(JSON.stringify(statement));

    const good = await createSignerFromConfig(config(mock.fulcioUrl), { logger, env }, 'x509');
    await signStatement(good, payload, {});

    // Fulcio of another Sigstore instance than the mirror describes: refused, not signed.
    const wrong = await createSignerFromConfig(config(other.fulcioUrl), { logger, env }, 'x509');
    const err = await rejection(signStatement(wrong, payload, {}));
    expect([err.kind, err.code]).toEqual(['permanent', 'FULCIO_CERTIFICATE_UNTRUSTED']);
  });
});
