/**
 * A protocol-level HashiCorp Vault stand-in: the transit engine (keys, sign) and JWT/Kubernetes login,
 * as Vault's HTTP API documents them (https://developer.hashicorp.com/vault/api-docs/secret/transit).
 * Test-only. Tokens are plain random strings; logins accept the JWTs the test registers.
 */
import { createHash, generateKeyPairSync, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestEcKey, type TestEcKey } from './kms-test-keys.js';

export interface VaultCall {
  readonly method: string;
  readonly path: string;
  readonly token: string | undefined;
  readonly body: Record<string, unknown> | undefined;
}

interface TransitKey {
  readonly type: 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'aes256-gcm96';
  readonly ec?: TestEcKey;
  readonly ed?: { privateKey: KeyObject; raw: Buffer };
}

export interface VaultTestServer {
  readonly url: string;
  readonly calls: VaultCall[];
  /** A token that may use the transit engine. */
  issueToken(): string;
  revokeToken(token: string): void;
  /** `auth/<mount>/login` accepts `jwt` for `role`. */
  allowLogin(mount: string, role: string, jwt: string): void;
  addKey(name: string, type: TransitKey['type']): { publicKeyPem?: string };
  /** The transit mount path (default `transit`). */
  readonly mount: string;
  stop(): Promise<void>;
}

export async function startVaultServer(options: { mount?: string } = {}): Promise<VaultTestServer> {
  const mount = options.mount ?? 'transit';
  const tokens = new Set<string>();
  const logins = new Map<string, string>(); // `${mount}\n${role}\n${jwt}` → ''
  const keys = new Map<string, TransitKey>();
  const calls: VaultCall[] = [];

  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown> | undefined> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (chunks.length === 0) return undefined;
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = (req.url ?? '').split('?')[0] ?? '';
      const token = req.headers['x-vault-token'] as string | undefined;
      calls.push({ method: req.method ?? '', path, token, body });
      const reply = (status: number, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const login = /^\/v1\/auth\/(.+)\/login$/.exec(path);
      if (login && req.method === 'POST') {
        const key = `${login[1]}\n${String(body?.['role'] ?? '')}\n${String(body?.['jwt'] ?? '')}`;
        if (!logins.has(key)) return reply(403, { errors: ['permission denied'] });
        const t = `hvs.${randomBytes(12).toString('hex')}`;
        tokens.add(t);
        return reply(200, { auth: { client_token: t, policies: ['transit-sign'], lease_duration: 3600, renewable: true } });
      }
      if (token === undefined || !tokens.has(token)) return reply(403, { errors: ['permission denied'] });
      const keyRoute = new RegExp(`^/v1/${mount}/keys/([^/]+)$`).exec(path);
      if (keyRoute && req.method === 'GET') {
        const k = keys.get(keyRoute[1] ?? '');
        if (!k) return reply(404, { errors: [] });
        const publicKey =
          k.ec?.publicKeyPem ?? (k.ed ? k.ed.raw.toString('base64') : undefined);
        return reply(200, {
          data: {
            type: k.type,
            latest_version: 1,
            min_decryption_version: 1,
            supports_signing: k.type !== 'aes256-gcm96',
            keys: { '1': publicKey === undefined ? 1700000000 : { name: k.type === 'ed25519' ? 'ed25519' : k.ec?.curve, public_key: publicKey, creation_time: '2026-01-01T00:00:00Z' } },
          },
        });
      }
      const signRoute = new RegExp(`^/v1/${mount}/sign/([^/]+)(?:/([^/]+))?$`).exec(path);
      if (signRoute && req.method === 'POST') {
        const k = keys.get(signRoute[1] ?? '');
        if (!k) return reply(404, { errors: [] });
        const input = Buffer.from(String(body?.['input'] ?? ''), 'base64');
        if (k.ed) return reply(200, { data: { signature: `vault:v1:${cryptoSign(null, input, k.ed.privateKey).toString('base64')}`, key_version: 1 } });
        if (!k.ec) return reply(400, { errors: ['key type does not support signing'] });
        const hashAlg = String(body?.['hash_algorithm'] ?? signRoute[2] ?? 'sha2-256');
        const nodeHash = hashAlg === 'sha2-384' ? 'sha384' : 'sha256';
        const digest = body?.['prehashed'] === true ? input : createHash(nodeHash).update(input).digest();
        const der = k.ec.signDigest(digest);
        // Vault's default marshaling for ECDSA is asn1; jws would be raw r||s (not supported here on purpose).
        if (body?.['marshaling_algorithm'] !== undefined && body['marshaling_algorithm'] !== 'asn1') return reply(400, { errors: ['unsupported marshaling'] });
        if (Number(body?.['key_version'] ?? 1) > 1) return reply(400, { errors: ['requested version for signing does not exist'] });
        return reply(200, { data: { signature: `vault:v1:${der.toString('base64')}`, key_version: 1 } });
      }
      return reply(404, { errors: [] });
    })().catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    mount,
    issueToken: () => {
      const t = `hvs.${randomBytes(12).toString('hex')}`;
      tokens.add(t);
      return t;
    },
    revokeToken: (t) => void tokens.delete(t),
    allowLogin: (m, role, jwt) => void logins.set(`${m}\n${role}\n${jwt}`, ''),
    addKey: (name, type) => {
      if (type === 'ecdsa-p256' || type === 'ecdsa-p384') {
        const ec = createTestEcKey(type === 'ecdsa-p256' ? 'P-256' : 'P-384');
        keys.set(name, { type, ec });
        return { publicKeyPem: ec.publicKeyPem };
      }
      if (type === 'ed25519') {
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
        keys.set(name, { type, ed: { privateKey, raw } });
        return { publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
      }
      keys.set(name, { type });
      return {};
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
