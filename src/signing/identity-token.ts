/**
 * Keyless identity-token providers (`signers.x509.fulcio.provider`), as cosign's `pkg/providers` which
 * Tekton Chains uses: each fetches a fresh OIDC token with audience `sigstore` for every certificate
 * request (tokens are short-lived; none is cached here), and none ever reaches an error or a log line.
 *
 * - `filesystem` (Chains' default when `signers.x509.identity.token.file` is set, which provenant always
 *   has): the projected token file, re-read each time;
 * - `github`: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with `Authorization: bearer
 *   $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answer `{"value": "<jwt>"}`;
 * - `google`: the metadata server's identity endpoint
 *   (`/computeMetadata/v1/instance/service-accounts/default/identity?audience=sigstore&format=full`,
 *   `Metadata-Flavor: Google`), host `metadata.google.internal` or `GCE_METADATA_HOST`;
 * - `spiffe`: a JWT-SVID for audience `sigstore` from the SPIFFE Workload API at `SPIFFE_ENDPOINT_SOCKET`
 *   (default `/tmp/spire-agent/public/api.sock`, cosign's), gRPC loaded only when used.
 */
import { readFile } from 'node:fs/promises';
import type { FulcioProviderName } from '../config/index.js';
import { ProvenantError } from '../errors.js';

/** sigstore-js's `IdentityProvider` shape: one method, a fresh token per call. */
export interface IdentityTokenProvider {
  readonly name: FulcioProviderName;
  getToken(): Promise<string>;
}

export interface IdentityTokenDeps {
  /** `signers.x509.identity.token.file` (filesystem provider). */
  readonly tokenFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

const audience = 'sigstore';
const hint = 'check signers.x509.fulcio.provider and what the controller pod can reach';

function unavailable(provider: FulcioProviderName, what: string, kind: 'config' | 'transient' = 'transient'): ProvenantError {
  return new ProvenantError(kind, kind === 'config' ? 'IDENTITY_PROVIDER_UNCONFIGURED' : 'IDENTITY_TOKEN_UNAVAILABLE', `identity token provider "${provider}": ${what}`, {
    context: { provider, hint },
  });
}

async function fetchText(provider: FulcioProviderName, deps: IdentityTokenDeps, url: string, headers: Record<string, string>): Promise<string> {
  const doFetch = deps.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(url, { headers, signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000) });
  } catch {
    throw unavailable(provider, 'the token endpoint did not answer');
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new ProvenantError(res.status >= 500 || res.status === 429 ? 'transient' : 'config', 'IDENTITY_TOKEN_UNAVAILABLE', `identity token provider "${provider}": HTTP ${res.status}`, {
      context: { provider, status: res.status, hint },
    });
  }
  return (await res.text()).trim();
}

function nonEmpty(provider: FulcioProviderName, token: string): string {
  if (token === '' || token.split('.').length !== 3) throw unavailable(provider, 'the answer is not a JWT');
  return token;
}

export const identityTokenProviders = {
  filesystem: (deps) => ({
    name: 'filesystem',
    getToken: async () => {
      let token: string;
      try {
        token = (await readFile(deps.tokenFile, 'utf8')).trim();
      } catch (err) {
        throw new ProvenantError('config', 'FULCIO_TOKEN_UNREADABLE', `cannot read the identity token file ${deps.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
          context: { source: deps.tokenFile, hint: 'mount a projected service account token with audience "sigstore" at signers.x509.identity.token.file' },
        });
      }
      if (token === '') {
        throw new ProvenantError('config', 'FULCIO_TOKEN_UNREADABLE', `the identity token file ${deps.tokenFile} is empty`, { context: { source: deps.tokenFile } });
      }
      return token;
    },
  }),
  github: (deps) => ({
    name: 'github',
    getToken: async () => {
      const env = deps.env ?? process.env;
      const url = env['ACTIONS_ID_TOKEN_REQUEST_URL'];
      const bearer = env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
      if (!url || !bearer) throw unavailable('github', 'ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set', 'config');
      const body = await fetchText('github', deps, `${url}&audience=${audience}`, { Authorization: `bearer ${bearer}`, Accept: 'application/json' });
      let value: unknown;
      try {
        value = (JSON.parse(body) as { value?: unknown }).value;
      } catch {
        value = undefined;
      }
      return nonEmpty('github', typeof value === 'string' ? value : '');
    },
  }),
  google: (deps) => ({
    name: 'google',
    getToken: async () => {
      const env = deps.env ?? process.env;
      const host = env['GCE_METADATA_HOST'] ?? env['GCE_METADATA_IP'] ?? 'metadata.google.internal';
      const url = `http://${host}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${audience}&format=full`;
      return nonEmpty('google', await fetchText('google', deps, url, { 'Metadata-Flavor': 'Google' }));
    },
  }),
  spiffe: (deps) => ({
    name: 'spiffe',
    getToken: async () => {
      const env = deps.env ?? process.env;
      const socket = env['SPIFFE_ENDPOINT_SOCKET'] ?? 'unix:///tmp/spire-agent/public/api.sock';
      const { fetchJwtSvid } = await import('./spiffe-workload.js');
      return nonEmpty('spiffe', (await fetchJwtSvid({ socket, audience, ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }) })).svid);
    },
  }),
} as const satisfies Record<FulcioProviderName, (deps: IdentityTokenDeps) => IdentityTokenProvider>;

/** The provider for `signers.x509.fulcio.provider`; unset means `filesystem`, as in Chains. */
export function createIdentityTokenProvider(name: FulcioProviderName | undefined, deps: IdentityTokenDeps): IdentityTokenProvider {
  return identityTokenProviders[name ?? 'filesystem'](deps);
}

