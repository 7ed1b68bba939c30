/**
 * An Azure Key Vault + Microsoft Entra token endpoint stand-in over HTTPS (test CA), speaking the
 * documented wire protocols so `@azure/keyvault-keys` and `@azure/identity` run unmodified:
 * - Entra: `/{tenant}/v2.0/.well-known/openid-configuration`, `POST /{tenant}/oauth2/v2.0/token`
 *   (client_credentials with `client_secret` or a `client_assertion` = the federated token);
 * - Key Vault: the challenge (`401` + `WWW-Authenticate: Bearer authorization=…, resource=…`),
 *   `GET /keys/{name}[/{version}]`, `POST /keys/{name}/{version}/sign` (JWS r||s result).
 * Test-only.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createTestEcKey, type TestEcKey } from './kms-test-keys.js';
import type { TestTls } from './test-ca.js';

export interface AzureCall {
  readonly method: string;
  readonly path: string;
  readonly form?: Record<string, string>;
  readonly body?: Record<string, unknown>;
}

export interface AzureKeyVaultTestServer {
  readonly url: string;
  /** `127.0.0.1:port`, the vault "host" in an azurekms:// reference. */
  readonly host: string;
  readonly tenantId: string;
  readonly calls: AzureCall[];
  /** Accept this client id with this secret. */
  allowClientSecret(clientId: string, secret: string): void;
  /** Accept this client id with this federated (workload identity) token. */
  allowFederatedToken(clientId: string, token: string): void;
  addKey(name: string, curve: 'P-256' | 'P-384'): { version: string; publicKeyPem: string };
  stop(): Promise<void>;
}

function derToRaw(der: Buffer, size: number): Buffer {
  // SEQUENCE { INTEGER r, INTEGER s }
  let i = 2;
  if (der[1]! & 0x80) i = 2 + (der[1]! & 0x7f);
  const read = (): Buffer => {
    const len = der[i + 1]!;
    const v = der.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    const trimmed = v[0] === 0 ? v.subarray(1) : v;
    return Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]);
  };
  return Buffer.concat([read(), read()]);
}

export async function startAzureKeyVaultServer(tls: TestTls): Promise<AzureKeyVaultTestServer> {
  const tenantId = '72f988bf-0000-4000-8000-000000000001';
  const secrets = new Map<string, string>();
  const federated = new Map<string, string>();
  const accessTokens = new Set<string>();
  const keys = new Map<string, { version: string; key: TestEcKey }>();
  const calls: AzureCall[] = [];
  let base = '';

  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', base);
      const path = url.pathname;
      const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      };
      if (path === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
        calls.push({ method: req.method ?? '', path });
        return json(200, {
          token_endpoint: `${base}/${tenantId}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/${tenantId}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${base}/${tenantId}/oauth2/v2.0/logout`,
          issuer: `${base}/${tenantId}/v2.0`,
          jwks_uri: `${base}/${tenantId}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'id_token', 'token'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid'],
        });
      }
      if (path === `/${tenantId}/oauth2/v2.0/token` && req.method === 'POST') {
        const form = Object.fromEntries(new URLSearchParams(raw));
        calls.push({ method: 'POST', path, form });
        const clientId = form['client_id'] ?? '';
        const ok =
          (form['client_secret'] !== undefined && secrets.get(clientId) === form['client_secret']) ||
          (form['client_assertion'] !== undefined && federated.get(clientId) === form['client_assertion']);
        if (!ok || form['scope'] !== 'https://vault.azure.net/.default') {
          return json(401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
        }
        const token = `eyJ0eXAiOiJKV1QifQ.${randomBytes(16).toString('base64url')}.x`;
        accessTokens.add(token);
        return json(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
      }
      const body = raw === '' ? undefined : (JSON.parse(raw) as Record<string, unknown>);
      calls.push({ method: req.method ?? '', path, ...(body === undefined ? {} : { body }) });
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (!accessTokens.has(bearer)) {
        return json(401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, {
          'www-authenticate': `Bearer authorization="${base}/${tenantId}", resource="https://vault.azure.net"`,
        });
      }
      const m = /^\/keys\/([^/]+)(?:\/([^/]*))?(\/sign)?$/.exec(path);
      const entry = m ? keys.get(m[1] ?? '') : undefined;
      if (!m || !entry || (m[2] !== undefined && m[2] !== '' && m[2] !== entry.version)) {
        return json(404, { error: { code: 'KeyNotFound', message: 'A key with (name/id) was not found in this key vault.' } });
      }
      const kid = `${base}/keys/${m[1]}/${entry.version}`;
      if (m[3] === undefined && req.method === 'GET') {
        const jwk = entry.key.publicKey.export({ format: 'jwk' });
        return json(200, {
          key: { kid, kty: 'EC', crv: entry.key.curve, x: jwk.x, y: jwk.y, key_ops: ['sign', 'verify'] },
          attributes: { enabled: true, created: 1700000000, updated: 1700000000, recoveryLevel: 'Recoverable+Purgeable' },
        });
      }
      if (m[3] === '/sign' && req.method === 'POST') {
        const alg = String(body?.['alg'] ?? '');
        const digest = Buffer.from(String(body?.['value'] ?? ''), 'base64url');
        const size = entry.key.curve === 'P-256' ? 32 : 48;
        if ((alg !== 'ES256' || size !== 32) && (alg !== 'ES384' || size !== 48)) {
          return json(400, { error: { code: 'BadParameter', message: 'Invalid algorithm' } });
        }
        return json(200, { kid, value: derToRaw(entry.key.signDigest(digest), size).toString('base64url') });
      }
      return json(405, { error: { code: 'BadRequest' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `https://127.0.0.1:${port}`;

  return {
    url: base,
    host: `127.0.0.1:${port}`,
    tenantId,
    calls,
    allowClientSecret: (id, secret) => void secrets.set(id, secret),
    allowFederatedToken: (id, token) => void federated.set(id, token),
    addKey: (name, curve) => {
      const key = createTestEcKey(curve);
      const version = randomBytes(16).toString('hex');
      keys.set(name, { version, key });
      return { version, publicKeyPem: key.publicKeyPem };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
