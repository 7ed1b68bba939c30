/**
 * Throwaway EC keys for the local KMS servers (test-only; generated per run, never stored).
 *
 * KMS signs a digest it receives, not a message, and node:crypto has no "sign this prehash" API.
 * So ECDSA is done by hand here: OpenSSL (through ECDH) does the point multiplication k·G, and
 * the scalar arithmetic mod n is plain BigInt. Verifiers then check the result with node:crypto.
 */
import { createECDH, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { DSSEBundleBuilder, type Signer } from '@sigstore/sign';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { PublicKeyDetails } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { rawEcdsaToDer } from '../../src/signing/der.js';

export type TestCurve = 'P-256' | 'P-384';

const curves: Readonly<Record<TestCurve, { openssl: string; size: number; n: bigint }>> = {
  'P-256': {
    openssl: 'prime256v1',
    size: 32,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  'P-384': {
    openssl: 'secp384r1',
    size: 48,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
};

export interface TestEcKey {
  readonly curve: TestCurve;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly spkiDer: Buffer;
  readonly publicKeyPem: string;
  /** ECDSA over a precomputed digest, DER encoded: what KMS returns. */
  signDigest(digest: Uint8Array): Buffer;
}

const toBigInt = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));
const toFixed = (v: bigint, size: number): Buffer => Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex');
const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, m);
}

export function createTestEcKey(curve: TestCurve): TestEcKey {
  const { openssl, size, n } = curves[curve];
  const ecdh = createECDH(openssl);
  ecdh.generateKeys();
  const dBytes = ecdh.getPrivateKey();
  const point = ecdh.getPublicKey(); // 04 || X || Y
  const b64u = (b: Buffer): string => b.toString('base64url');
  const jwk = {
    kty: 'EC',
    crv: curve,
    d: b64u(toFixed(toBigInt(dBytes), size)),
    x: b64u(point.subarray(1, 1 + size)),
    y: b64u(point.subarray(1 + size)),
  };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  const publicKey = createPublicKey(privateKey);
  const spkiDer = publicKey.export({ format: 'der', type: 'spki' });
  const d = toBigInt(dBytes);

  function signDigest(digest: Uint8Array): Buffer {
    // FIPS 186-4: use the leftmost bits of the digest when it is longer than n.
    let e = toBigInt(digest);
    const excess = digest.length * 8 - size * 8;
    if (excess > 0) e >>= BigInt(excess);
    for (;;) {
      const k = mod(toBigInt(randomBytes(size + 8)), n - 1n) + 1n;
      const kEcdh = createECDH(openssl);
      kEcdh.setPrivateKey(toFixed(k, size));
      const kG = kEcdh.getPublicKey();
      const r = mod(toBigInt(kG.subarray(1, 1 + size)), n);
      if (r === 0n) continue;
      const s = mod(modInverse(k, n) * (e + r * d), n);
      if (s === 0n) continue;
      return rawEcdsaToDer(Buffer.concat([toFixed(r, size), toFixed(s, size)]));
    }
  }

  return {
    curve,
    privateKey,
    publicKey,
    spkiDer,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    signDigest,
  };
}

/** Signs `payload` into a DSSE bundle with `signer` and verifies it with @sigstore/verify against `publicKeyPem`. */
export async function signAndVerifyDsse(
  signer: Signer,
  publicKeyPem: string,
  payload: Buffer,
): Promise<{ bundleJson: ReturnType<typeof bundleToJSON>; verify: (json: unknown) => void }> {
  const builder = new DSSEBundleBuilder({ signer, witnesses: [] });
  const bundle = await builder.create({ data: payload, type: 'application/vnd.in-toto+json' });
  const bundleJson = bundleToJSON(bundle);
  const verify = (json: unknown): void => {
    const parsed = bundleFromJSON(json);
    const hint = parsed.verificationMaterial.content.$case === 'publicKey' ? parsed.verificationMaterial.content.publicKey.hint : '';
    const trust = toTrustMaterial(
      {
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs: [],
        certificateAuthorities: [],
        ctlogs: [],
        timestampAuthorities: [],
      },
      {
        [hint]: {
          rawBytes: createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' }),
          keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
        },
      },
    );
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(parsed));
  };
  verify(bundleJson);
  return { bundleJson, verify };
}
