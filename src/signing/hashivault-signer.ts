/**
 * HashiCorp Vault transit signer (`signers.kms.kmsref: hashivault://<key>`), speaking Vault's HTTP API as
 * sigstore/sigstore's kms/hashivault client does (no SDK):
 * - `GET  /v1/<transit>/keys/<key>`: the public key of the latest version, resolved once; signatures are
 *   then pinned to that version (`key_version`) so they always match the public key we publish;
 * - `POST /v1/<transit>/sign/<key>`: ECDSA over a digest we compute (`prehashed`, `hash_algorithm`,
 *   `marshaling_algorithm: asn1` → DER, as bundles need); ed25519 signs the message itself.
 *
 * Authentication, in Tekton Chains' order (pkg/chains/signing/kms): a SPIRE JWT-SVID login
 * (`spire.sock` + `spire.audience`, login at `auth/<oidc.path|jwt>/login` with `oidc.role`) over a
 * static token (`token-path`, re-read on every authentication, else `token`), over a JWT/Kubernetes login
 * with the file at `oidc.token-path` (only with `oidc.path` and `oidc.role`), over `VAULT_TOKEN`.
 * A 403 triggers one re-authentication (re-read file, new SVID, new login), then the call is retried once.
 * The transit mount is `TRANSIT_SECRET_ENGINE_PATH` (default `transit`), the address `signers.kms.auth.address`
 * or `VAULT_ADDR`. Tokens and SVIDs never reach an error message or a log line.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Signature } from '@sigstore/sign';
import type { KmsAuthConfig } from '../config/index.js';
import { ProvenantError, type ErrorKind, type SigningErrorCode } from '../errors.js';
import { hashFor, kmsKeyAlgorithmOf } from './key-signer.js';
import { fetchJwtSvid } from './spiffe-workload.js';
import type { KeySigner, SignerDeps } from './types.js';

const SETTING = 'signers.kms.kmsref';
const refPattern = /^(?:hashivault|openbao):\/\/(\w(?:[\w.-]*\w)?)$/;

export function parseHashivaultRef(ref: string): string {
  const m = refPattern.exec(ref);
  if (!m || m[1] === undefined) {
    throw new ProvenantError('config', 'KMS_REF_INVALID', `${SETTING} is not a valid hashivault:// reference`, {
      context: { setting: SETTING, hint: 'use hashivault://<transit key name>; the transit mount comes from TRANSIT_SECRET_ENGINE_PATH' },
    });
  }
  return m[1];
}

const emptyAuth: KmsAuthConfig = {
  address: undefined,
  token: undefined,
  tokenPath: undefined,
  oidc: { path: undefined, role: undefined, tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
  spire: { sock: undefined, audience: undefined },
};

interface Classified {
  readonly kind: ErrorKind;
  readonly code: SigningErrorCode;
}

function classifyStatus(status: number): Classified {
  if (status === 401 || status === 403) return { kind: 'permanent', code: 'KMS_ACCESS_DENIED' };
  if (status === 404) return { kind: 'permanent', code: 'KMS_KEY_NOT_FOUND' };
  if (status === 429) return { kind: 'transient', code: 'KMS_THROTTLED' };
  if (status >= 500) return { kind: 'transient', code: 'KMS_UNAVAILABLE' };
  return { kind: 'permanent', code: 'KMS_REQUEST_REJECTED' };
}

/** Where the Vault token came from, so a 403 knows whether re-authenticating can help. */
type TokenSource = 'spire' | 'token-path' | 'token' | 'oidc' | 'env';

interface VaultToken {
  readonly token: string;
  readonly source: TokenSource;
}

export interface HashivaultSignerDeps extends SignerDeps {
  /** Per-request timeout; default 30 s. */
  readonly timeoutMs?: number;
}

export async function createHashivaultSigner(ref: string, deps: HashivaultSignerDeps): Promise<KeySigner> {
  const keyName = parseHashivaultRef(ref);
  const env = deps.env ?? process.env;
  const auth = deps.kmsAuth ?? emptyAuth;
  const doFetch = deps.fetch ?? fetch;
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const address = (auth.address ?? env['VAULT_ADDR'] ?? env['BAO_ADDR'] ?? '').replace(/\/+$/, '');
  if (address === '') {
    throw new ProvenantError('config', 'VAULT_ADDRESS_MISSING', 'hashivault:// needs signers.kms.auth.address or VAULT_ADDR', {
      context: { setting: 'signers.kms.auth.address', hint: 'set signers.kms.auth.address to the Vault URL, e.g. https://vault.vault:8200' },
    });
  }
  const transit = (env['TRANSIT_SECRET_ENGINE_PATH'] ?? 'transit').replace(/^\/+|\/+$/g, '');
  const namespace = env['VAULT_NAMESPACE'];
  const { logger } = deps;

  async function call(method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers['x-vault-token'] = token;
    if (namespace) headers['x-vault-namespace'] = namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(`${address}/v1/${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new ProvenantError('transient', 'KMS_UNREACHABLE', `Vault ${method} /v1/${path.split('/').slice(0, 2).join('/')} failed (no answer)`, {
        cause: err instanceof Error ? new Error(err.name) : undefined,
        context: { hint: 'check network access to signers.kms.auth.address' },
      });
    }
    const text = await res.text();
    if (!res.ok) {
      const c = classifyStatus(res.status);
      // Vault's error bodies are not shown: a misconfigured proxy may echo request headers.
      throw new ProvenantError(c.kind, c.code, `Vault ${method} ${routeOf(path)} answered HTTP ${res.status}`, {
        context: { status: res.status, hint: hintFor(c.code) },
      });
    }
    try {
      return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      throw new ProvenantError('transient', 'KMS_BAD_RESPONSE', `Vault ${routeOf(path)} returned a body that is not JSON`);
    }
  }

  function routeOf(path: string): string {
    // "transit/sign/key" → "/v1/transit/sign/:name"; "auth/jwt/login" stays as is (no secret in it).
    return path.startsWith('auth/') ? `/v1/${path}` : `/v1/${path.split('/').slice(0, -1).join('/')}/:name`;
  }

  async function login(jwt: string): Promise<string> {
    const mount = (auth.oidc.path ?? 'jwt').replace(/^\/+|\/+$/g, '');
    const res = await call('POST', `auth/${mount}/login`, undefined, { role: auth.oidc.role ?? '', jwt });
    const token = (res['auth'] as { client_token?: unknown } | undefined)?.client_token;
    if (typeof token !== 'string' || token === '') {
      throw new ProvenantError('permanent', 'KMS_ACCESS_DENIED', `Vault login at auth/${mount}/login returned no client token`, {
        context: { hint: 'check the Vault role and its bound claims' },
      });
    }
    return token;
  }

  async function readSecretFile(path: string, what: string): Promise<string> {
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new ProvenantError('config', 'VAULT_TOKEN_UNREADABLE', `cannot read the ${what} file`, {
        cause: err instanceof Error ? new Error((err as NodeJS.ErrnoException).code ?? err.name) : undefined,
        context: { path, hint: 'mount the Secret (or projected token) at that path' },
      });
    }
  }

  async function authenticate(): Promise<VaultToken> {
    if (auth.spire.sock !== undefined) {
      const svid = await fetchJwtSvid({ socket: auth.spire.sock, audience: auth.spire.audience ?? '' });
      return { token: await login(svid.svid), source: 'spire' };
    }
    if (auth.tokenPath !== undefined) {
      const token = await readSecretFile(auth.tokenPath, 'signers.kms.auth.token-path');
      if (token !== '') return { token, source: 'token-path' };
    } else if (auth.token !== undefined) {
      return { token: auth.token, source: 'token' };
    }
    if (auth.oidc.path !== undefined && auth.oidc.role !== undefined) {
      const jwt = await readSecretFile(auth.oidc.tokenPath, 'signers.kms.auth.oidc.token-path');
      if (jwt === '') {
        throw new ProvenantError('config', 'VAULT_TOKEN_UNREADABLE', 'the signers.kms.auth.oidc.token-path file is empty', {
          context: { path: auth.oidc.tokenPath },
        });
      }
      return { token: await login(jwt), source: 'oidc' };
    }
    const envToken = env['VAULT_TOKEN'] ?? env['BAO_TOKEN'];
    if (envToken) return { token: envToken, source: 'env' };
    throw new ProvenantError('config', 'VAULT_TOKEN_MISSING', 'no Vault token: set signers.kms.auth.token-path, .token, .oidc.* or .spire.*', {
      context: { setting: 'signers.kms.auth.token-path', hint: 'mount a Secret with the Vault token and point signers.kms.auth.token-path at it' },
    });
  }

  let current = await authenticate();

  /** One call; on 401/403 authenticate again (when the source can change) and retry once. */
  async function authorized(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> {
    try {
      return await call(method, path, current.token, body);
    } catch (err) {
      if (!(err instanceof ProvenantError) || err.code !== 'KMS_ACCESS_DENIED' || current.source === 'token' || current.source === 'env') throw err;
      logger.info({ source: current.source }, 'Vault denied the token; authenticating again');
      current = await authenticate();
      return call(method, path, current.token, body);
    }
  }

  let keyInfo: Record<string, unknown>;
  try {
    keyInfo = await authorized('GET', `${transit}/keys/${keyName}`);
  } catch (err) {
    if (err instanceof ProvenantError && err.kind === 'permanent') {
      throw new ProvenantError('config', err.code, `cannot read the transit key of ${SETTING}: ${err.message}`, { cause: err, context: err.context });
    }
    throw err;
  }
  const data = (keyInfo['data'] ?? {}) as { latest_version?: unknown; keys?: Record<string, { public_key?: unknown; name?: unknown }>; type?: unknown };
  const version = typeof data.latest_version === 'number' ? data.latest_version : Number(data.latest_version);
  const entry = data.keys?.[String(version)];
  if (!Number.isInteger(version) || version < 1 || entry === undefined || typeof entry.public_key !== 'string' || entry.public_key === '') {
    throw new ProvenantError('config', 'KMS_KEY_UNSUITABLE', `${SETTING} names a transit key without a public key (not an asymmetric signing key)`, {
      context: { keyType: typeof data.type === 'string' ? data.type : 'unknown', hint: 'create the key with type ecdsa-p256 (recommended), ecdsa-p384 or ed25519' },
    });
  }
  let publicKey: KeyObject;
  try {
    publicKey =
      entry.name === 'ed25519' || data.type === 'ed25519'
        ? createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(entry.public_key, 'base64').toString('base64url') }, format: 'jwk' })
        : createPublicKey(entry.public_key);
  } catch {
    throw new ProvenantError('config', 'KMS_KEY_UNSUITABLE', `${SETTING}: Vault returned a public key that cannot be parsed`);
  }
  const algorithm = kmsKeyAlgorithmOf(publicKey, SETTING);
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const hash = hashFor(algorithm);
  let closed = false;
  logger.info({ key: keyName, version, algorithm }, 'Vault transit signer ready');

  return {
    algorithm,
    publicKeyPem,
    async sign(data: Buffer): Promise<Signature> {
      if (closed) throw new ProvenantError('permanent', 'SIGNER_CLOSED', 'the Vault transit signer was closed');
      const body =
        hash === null
          ? { input: data.toString('base64'), key_version: version, prehashed: false }
          : {
              input: createHash(hash).update(data).digest('base64'),
              key_version: version,
              prehashed: true,
              hash_algorithm: hash === 'sha256' ? 'sha2-256' : 'sha2-384',
              marshaling_algorithm: 'asn1',
            };
      const res = await authorized('POST', `${transit}/sign/${keyName}`, body);
      const sig = (res['data'] as { signature?: unknown } | undefined)?.signature;
      const m = typeof sig === 'string' ? /^vault:v(\d+):(.+)$/.exec(sig) : null;
      if (m === null || m[2] === undefined) {
        throw new ProvenantError('transient', 'KMS_BAD_RESPONSE', 'Vault transit sign returned no signature');
      }
      if (Number(m[1]) !== version) {
        throw new ProvenantError('permanent', 'KMS_BAD_RESPONSE', `Vault signed with key version ${m[1]}, not the pinned ${version}`);
      }
      return { signature: Buffer.from(m[2], 'base64'), key: { $case: 'publicKey', publicKey: publicKeyPem } };
    },
    close: async () => {
      closed = true;
    },
  };
}

function hintFor(code: SigningErrorCode): string {
  switch (code) {
    case 'KMS_ACCESS_DENIED':
      return 'the Vault policy must allow read on <transit>/keys/<key> and update on <transit>/sign/<key>; check the token or login role';
    case 'KMS_KEY_NOT_FOUND':
      return 'check the key name in signers.kms.kmsref and TRANSIT_SECRET_ENGINE_PATH (default transit)';
    default:
      return 'check signers.kms.auth.address and that Vault is unsealed and reachable';
  }
}
