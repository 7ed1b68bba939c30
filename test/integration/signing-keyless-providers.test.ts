import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { parseConfig, type Config } from '../../src/config/index.js';
import { isProvenantError } from '../../src/errors.js';
import { createCapturingLogger } from '../../src/observability/index.js';
import { createSignerFromConfig, isFulcioSigner } from '../../src/signing/index.js';
import { signStatement } from '../../src/signing/bundle.js';
import { startSigstoreMock, type SigstoreMock } from '../support/sigstore-mock.js';
import { startSpiffeWorkloadServer, type SpiffeWorkloadTestServer } from '../support/spiffe-workload-server.js';
import { startGceMetadataServer, startGithubTokenEndpoint, type TokenEndpoint } from '../support/token-endpoints.js';
import { jwt, secretDir, statement } from '../unit/signing/helpers.js';

const GH_BEARER = 'provenantFakeActionsRequestTokenDoNotLeak';
let minted = 0;
const issued: string[] = [];
/** A fresh token per request, with a marker claim so tests can tell them apart (never printed). */
function mint(audience: string): string {
  minted += 1;
  const token = jwt({
    iss: 'https://kubernetes.default.svc',
    sub: 'system:serviceaccount:build:pipeline',
    aud: [audience],
    n: `provenantFakeTokenDoNotLeak-${minted}`,
    'kubernetes.io': { namespace: 'build', serviceaccount: { name: 'pipeline' } },
  });
  issued.push(token);
  return token;
}

let mock: SigstoreMock;
let github: TokenEndpoint;
let google: TokenEndpoint;
let spiffe: SpiffeWorkloadTestServer;
let tokenFile: string;

beforeAll(async () => {
  [mock, github, google, spiffe] = await Promise.all([
    startSigstoreMock(),
    startGithubTokenEndpoint(GH_BEARER, mint),
    startGceMetadataServer(mint),
    startSpiffeWorkloadServer(mint),
  ]);
  tokenFile = path.join(await secretDir({ 'oidc-token': mint('sigstore') }), 'oidc-token');
});
afterAll(async () => {
  await Promise.all([mock.stop(), github.stop(), google.stop(), spiffe.stop()]);
});

function keylessConfig(provider: string): Config {
  return parseConfig({
    'signers.x509.fulcio.enabled': 'true',
    'signers.x509.fulcio.address': mock.fulcioUrl,
    'signers.x509.fulcio.provider': provider,
    'signers.x509.identity.token.file': tokenFile,
    'transparency.enabled': 'true',
  }).config;
}

const env = (): NodeJS.ProcessEnv => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: github.address,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: GH_BEARER,
  GCE_METADATA_HOST: google.address,
  SPIFFE_ENDPOINT_SOCKET: spiffe.socket,
});

function requestsOf(provider: string): number {
  if (provider === 'github') return github.requests.length;
  if (provider === 'google') return google.requests.length;
  if (provider === 'spiffe') return spiffe.requests.length;
  return 0;
}

describe('signers.x509.fulcio.provider', () => {
  it.each(['github', 'google', 'spiffe', 'filesystem'])('%s: a fresh token for audience "sigstore" per certificate, never logged', async (provider) => {
    const { logger, lines } = createCapturingLogger();
    let clock = Date.now();
    const signer = await createSignerFromConfig(keylessConfig(provider), { logger, env: env(), now: () => new Date(clock) }, 'x509');
    expect(isFulcioSigner(signer)).toBe(true);
    const before = requestsOf(provider);
    const certsBefore = mock.fulcioCertificateCount();
    const payload = Buffer.from(JSON.stringify(statement));
    await signStatement(signer, payload, {});
    await signStatement(signer, payload, {});
    // Past the certificate's lifetime: a new certificate, so a new token.
    clock += 24 * 3600_000;
    await signStatement(signer, payload, {});
    expect(mock.fulcioCertificateCount() - certsBefore).toBe(2);
    if (provider !== 'filesystem') {
      expect(requestsOf(provider) - before).toBe(2);
    }
    if (provider === 'github') expect(github.requests.slice(before).every((r) => r.audience === 'sigstore' && r.authorized)).toBe(true);
    if (provider === 'google') expect(google.requests.slice(before).every((r) => r.audience === 'sigstore' && r.authorized)).toBe(true);
    if (provider === 'spiffe') expect(spiffe.requests.slice(before)).toEqual([{ audience: ['sigstore'], hadHeader: true }, { audience: ['sigstore'], hadHeader: true }]);
    if (isFulcioSigner(signer)) {
      const cert = new X509Certificate(signer.currentCertificate() ?? '');
      expect(cert.subjectAltName).toContain('https://kubernetes.io/namespaces/build/serviceaccounts/pipeline');
    }
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l).not.toContain('provenantFake');
      for (const t of issued) expect(l).not.toContain(t.split('.')[1]);
    }
    await signer.close?.();
  });

  it('typed errors: github without its env, metadata server refusing, no SPIFFE agent; no secret in them', async () => {
    const { logger, lines } = createCapturingLogger();
    const payload = Buffer.from(JSON.stringify(statement));
    const errors: unknown[] = [];
    for (const [provider, e] of [
      ['github', {}],
      ['github', { ...env(), ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'provenantFakeWrongBearer' }],
      ['google', { GCE_METADATA_HOST: '127.0.0.1:9' }],
      ['spiffe', { SPIFFE_ENDPOINT_SOCKET: 'unix:///nonexistent/agent.sock' }],
    ] as const) {
      const signer = await createSignerFromConfig(keylessConfig(provider), { logger, env: e }, 'x509');
      errors.push(await signStatement(signer, payload, {}).then(() => undefined, (err: unknown) => err));
    }
    expect(errors.map((e) => (isProvenantError(e) ? [e.kind, e.code] : e))).toEqual([
      ['config', 'IDENTITY_PROVIDER_UNCONFIGURED'],
      ['config', 'IDENTITY_TOKEN_UNAVAILABLE'],
      ['transient', 'IDENTITY_TOKEN_UNAVAILABLE'],
      ['transient', 'SPIFFE_UNAVAILABLE'],
    ]);
    for (const t of [...lines, ...errors.map((e) => JSON.stringify(e) + String(e))]) {
      expect(t).not.toContain('provenantFake');
      for (const tok of issued) expect(t).not.toContain(tok.split('.')[1]);
    }
  });

  it('config: Chains provider names are accepted (filesystem-custom-path = filesystem), others refused at load', () => {
    expect(parseConfig({ 'signers.x509.fulcio.provider': 'filesystem-custom-path' }).config.signers.x509.fulcio.provider).toBe('filesystem');
    expect(() => parseConfig({ 'signers.x509.fulcio.provider': 'azure' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
