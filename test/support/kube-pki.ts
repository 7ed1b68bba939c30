/**
 * The fake API server's PKI, the way a cluster has one: a self-signed CA (what kubeadm writes to
 * `ca.crt` and every pod finds at `/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`), a serving
 * certificate it signs for 127.0.0.1/localhost/kubernetes.default.svc, and a ServiceAccount token
 * signing key (ES256 JWTs with the claims the real issuer writes).
 *
 * Certificates are DER-encoded by hand with node:crypto signing (ECDSA P-256 / SHA-256): no openssl
 * process and no dependency, so the demo and every test pay a few milliseconds. Test-only keys,
 * generated per server, never written anywhere but a test's temp directory.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

// ---- minimal DER ----

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

function integer(b: Buffer): Buffer {
  let v = b;
  while (v.length > 1 && v[0] === 0 && ((v[1] ?? 0) & 0x80) === 0) v = v.subarray(1);
  if (((v[0] ?? 0) & 0x80) !== 0) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] ?? 0) + (parts[1] ?? 0)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
const extension = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function keyId(key: KeyObject): Buffer {
  return createHash('sha1').update(key.export({ type: 'spki', format: 'der' })).digest();
}

function toPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

interface CertSpec {
  readonly subject: string;
  readonly issuer: string;
  readonly publicKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly issuerPublicKey: KeyObject;
  readonly ca: boolean;
  readonly dnsNames?: readonly string[];
  readonly ips?: readonly string[];
}

function certificate(spec: CertSpec): Buffer {
  const now = Date.now();
  const extensions: Buffer[] = [];
  if (spec.ca) {
    extensions.push(extension('2.5.29.19', true, seq(bool(true))));
    // digitalSignature, keyCertSign, cRLSign
    extensions.push(extension('2.5.29.15', true, bits(Buffer.from([0x86]), 1)));
  } else {
    extensions.push(extension('2.5.29.19', true, seq()));
    extensions.push(extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)));
    extensions.push(extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))));
    const san = [
      ...(spec.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
      ...(spec.ips ?? []).map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
    ];
    extensions.push(extension('2.5.29.17', false, seq(...san)));
  }
  extensions.push(extension('2.5.29.14', false, octets(keyId(spec.publicKey))));
  extensions.push(extension('2.5.29.35', false, seq(tlv(0x80, keyId(spec.issuerPublicKey)))));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    ecdsaWithSha256,
    name(spec.issuer),
    seq(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 7 * 86_400_000))),
    name(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, spec.signingKey);
  return seq(tbs, ecdsaWithSha256, bits(signature));
}

export interface KubePki {
  /** The cluster CA certificate (PEM): `certificate-authority-data`, the pod's `ca.crt`. */
  readonly caPem: string;
  /** The API server's serving certificate and key (PEM). */
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
}

/** A CA and a serving certificate for the loopback API server. */
export function createKubePki(): KubePki {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const server = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caDer = certificate({ subject: 'kubernetes', issuer: 'kubernetes', publicKey: ca.publicKey, signingKey: ca.privateKey, issuerPublicKey: ca.publicKey, ca: true });
  const serverDer = certificate({
    subject: 'kube-apiserver',
    issuer: 'kubernetes',
    publicKey: server.publicKey,
    signingKey: ca.privateKey,
    issuerPublicKey: ca.publicKey,
    ca: false,
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ips: ['127.0.0.1'],
  });
  return {
    caPem: toPem(caDer, 'CERTIFICATE'),
    serverCertPem: toPem(serverDer, 'CERTIFICATE'),
    serverKeyPem: server.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

// ---- ServiceAccount tokens ----

export const serviceAccountIssuer = 'https://kubernetes.default.svc.cluster.local';

export interface ServiceAccountClaims {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface TokenIssuer {
  issue(sa: ServiceAccountClaims, options?: { readonly audiences?: readonly string[]; readonly expirationSeconds?: number }): string;
  /** The ServiceAccount a token names, when its signature, issuer and lifetime check out. */
  verify(token: string, audience?: string): ServiceAccountClaims | undefined;
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

/** ES256 JWTs shaped like the kube-apiserver's bound ServiceAccount tokens. */
export function createTokenIssuer(now: () => number = Date.now): TokenIssuer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = keyId(publicKey).toString('base64url');
  const verifyKey = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
  return {
    issue(sa, options = {}) {
      const iat = Math.floor(now() / 1000);
      const header = b64url({ alg: 'ES256', kid });
      const payload = b64url({
        aud: options.audiences ?? [serviceAccountIssuer],
        exp: iat + (options.expirationSeconds ?? 3600),
        iat,
        nbf: iat,
        iss: serviceAccountIssuer,
        sub: `system:serviceaccount:${sa.namespace}:${sa.name}`,
        'kubernetes.io': { namespace: sa.namespace, serviceaccount: { name: sa.name, uid: sa.uid } },
      });
      const sig = sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${header}.${payload}.${sig.toString('base64url')}`;
    },
    verify(token, audience = serviceAccountIssuer) {
      const [h, p, s] = token.split('.');
      if (h === undefined || p === undefined || s === undefined) return undefined;
      const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key: verifyKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
      if (!ok) return undefined;
      try {
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as {
          aud?: string[];
          exp?: number;
          iss?: string;
          'kubernetes.io'?: { namespace?: string; serviceaccount?: { name?: string; uid?: string } };
        };
        const t = Math.floor(now() / 1000);
        if (claims.iss !== serviceAccountIssuer || !(claims.aud ?? []).includes(audience) || (claims.exp ?? 0) <= t) return undefined;
        const k = claims['kubernetes.io'];
        const ns = k?.namespace;
        const n = k?.serviceaccount?.name;
        const uid = k?.serviceaccount?.uid;
        if (ns === undefined || n === undefined || uid === undefined) return undefined;
        return { namespace: ns, name: n, uid };
      } catch {
        return undefined;
      }
    },
  };
}
