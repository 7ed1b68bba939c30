/**
 * The keyed lean path (verify-key.ts, used through `verifyAttestation`) against `verifyBundle`
 * (@sigstore/verify), the reference: whatever the lean path decides, result or typed error, the
 * reference decides the same; what it cannot decide it hands over. Checked on the usual cases (good,
 * tampered, wrong key, log required, P-384 SHA-384, Ed25519, RSA, a `.att` envelope) and on generated
 * damage to a bundle's shape.
 */
import { createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProvenantError } from '../../../src/errors.js';
import { verifyBundle, type VerificationPolicy } from '../../../src/verify/index.js';
import { bundleFromEnvelope, verifyAttestation } from '../../../src/verify/light.js';
import { dssePreAuthEncoding, verifyKeyedDsse } from '../../../src/verify/verify-key.js';
import { generateKey, pemOf, statement, type TestKeyType } from '../signing/helpers.js';

const payloadType = 'application/vnd.in-toto+json';
const payload = Buffer.from(JSON.stringify(statement));

function signDsse(privateKey: KeyObject, body: Buffer, hash: string | null = 'sha256'): string {
  return cryptoSign(hash, dssePreAuthEncoding(payloadType, body), privateKey).toString('base64');
}

function keyedBundle(privateKey: KeyObject, options: { readonly hash?: string | null; readonly body?: Buffer } = {}): Record<string, unknown> {
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'k' }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType,
      signatures: [{ sig: signDsse(privateKey, options.body ?? payload, options.hash === undefined ? 'sha256' : options.hash), keyid: '' }],
    },
  };
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly kind: string; readonly code: string };

async function outcomeOf(fn: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (!isProvenantError(err)) throw err;
    return { ok: false, kind: err.kind, code: err.code };
  }
}

/** Runs both paths; returns the reference outcome after checking the lean one equals it. */
async function agree(bundle: unknown, policy: VerificationPolicy): Promise<Outcome> {
  const reference = await outcomeOf(() => verifyBundle(bundle, policy));
  expect(await outcomeOf(() => verifyAttestation(bundle, policy))).toEqual(reference);
  return reference;
}

const p256 = generateKey('p256');
const policy = { key: pemOf(p256.publicKey) };

describe('the keyed lean path decides as verifyBundle does', () => {
  it('a good bundle: same statement, subjects, predicate type and signer, without @sigstore/verify', async () => {
    const bundle = keyedBundle(p256.privateKey);
    const lean = verifyKeyedDsse(bundle, policy);
    expect(lean).toBeDefined();
    expect(lean).toEqual(verifyBundle(bundle, policy));
    expect(lean?.subjects.length).toBeGreaterThan(0);
  });

  it('tampered payload → VERIFY_SIGNATURE_INVALID on both', async () => {
    const bundle = keyedBundle(p256.privateKey);
    const envelope = bundle['dsseEnvelope'] as Record<string, unknown>;
    const tampered = { ...bundle, dsseEnvelope: { ...envelope, payload: Buffer.from(JSON.stringify({ ...statement, predicateType: 'x' })).toString('base64') } };
    expect(() => verifyKeyedDsse(tampered, policy)).toThrow(expect.objectContaining({ kind: 'permanent', code: 'VERIFY_SIGNATURE_INVALID' }));
    expect(await agree(tampered, policy)).toMatchObject({ ok: false, code: 'VERIFY_SIGNATURE_INVALID' });
  });

  it('wrong key → VERIFY_SIGNATURE_INVALID on both', async () => {
    const other = { key: pemOf(generateKey('p256').publicKey) };
    expect(await agree(keyedBundle(p256.privateKey), other)).toMatchObject({ ok: false, code: 'VERIFY_SIGNATURE_INVALID' });
  });

  it('a log entry required, none in the bundle → VERIFY_TLOG_MISSING on both; garbled key → input VERIFY_KEY_INVALID', async () => {
    expect(await agree(keyedBundle(p256.privateKey), { ...policy, requireTlog: true })).toMatchObject({ ok: false, code: 'VERIFY_TLOG_MISSING' });
    expect(await agree(keyedBundle(p256.privateKey), { key: 'not a key' })).toMatchObject({ ok: false, kind: 'input', code: 'VERIFY_KEY_INVALID' });
  });

  it.each<[TestKeyType, string | null]>([
    ['p384', 'sha256'],
    ['p384', 'sha384'],
    ['ed25519', null],
    ['rsa', 'sha256'],
  ])('%s keys signing %s verify on both paths', async (type, hash) => {
    const { privateKey, publicKey } = generateKey(type);
    const keyPolicy = { key: pemOf(publicKey) };
    const bundle = keyedBundle(privateKey, { hash });
    expect(verifyKeyedDsse(bundle, keyPolicy)).toBeDefined();
    expect(await agree(bundle, keyPolicy)).toMatchObject({ ok: true });
  });

  it('a cosign .att envelope wrapped by bundleFromEnvelope takes the lean path', async () => {
    const envelope = keyedBundle(p256.privateKey)['dsseEnvelope'] as Parameters<typeof bundleFromEnvelope>[0];
    const bundle = bundleFromEnvelope(envelope);
    expect(verifyKeyedDsse(bundle, policy)).toBeDefined();
    expect(await agree(bundle, policy)).toMatchObject({ ok: true });
  });

  it('keyless, a trusted root, or a message signature are left to verifyBundle', () => {
    const bundle = keyedBundle(p256.privateKey);
    const root = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
    expect(verifyKeyedDsse(bundle, { ...policy, trustedRoot: root })).toBeUndefined();
    expect(verifyKeyedDsse(bundle, { identity: { san: 'x', issuer: 'y' }, trustedRoot: root })).toBeUndefined();
    const message = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] },
      messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update('x').digest('base64') }, signature: 'AAAA' },
    };
    expect(verifyKeyedDsse(message, policy)).toBeUndefined();
  });
});

/** Places in a bundle to damage, and what to put there (undefined: remove it). */
const places: readonly (readonly (string | number)[])[] = [
  ['mediaType'],
  ['verificationMaterial'],
  ['verificationMaterial', 'publicKey'],
  ['verificationMaterial', 'publicKey', 'hint'],
  ['verificationMaterial', 'tlogEntries'],
  ['verificationMaterial', 'tlogEntries', 0],
  ['verificationMaterial', 'timestampVerificationData'],
  ['verificationMaterial', 'timestampVerificationData', 'rfc3161Timestamps'],
  ['verificationMaterial', 'x509CertificateChain'],
  ['verificationMaterial', 'certificate'],
  ['dsseEnvelope'],
  ['dsseEnvelope', 'payload'],
  ['dsseEnvelope', 'payloadType'],
  ['dsseEnvelope', 'signatures'],
  ['dsseEnvelope', 'signatures', 0],
  ['dsseEnvelope', 'signatures', 1],
  ['dsseEnvelope', 'signatures', 0, 'sig'],
  ['dsseEnvelope', 'signatures', 0, 'keyid'],
  ['messageSignature'],
];

const damage = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constantFrom(
    '',
    'AAAA',
    '!!',
    [],
    {},
    0,
    'application/vnd.dev.sigstore.bundle+json;version=0.1',
    'application/vnd.dev.sigstore.bundle+json;version=0.2',
    'application/vnd.dev.sigstore.bundle.v0.3+json;x',
    'application/vnd.dev.sigstore.bundle.v0.4+json',
    'application/vnd.in-toto+json',
    { rfc3161Timestamps: [] },
    { hint: 'h' },
    { sig: 'AAAA', keyid: '' },
    { logIndex: '1', logId: { keyId: 'AAAA' }, kindVersion: { kind: 'dsse', version: '0.0.1' }, integratedTime: '0', canonicalizedBody: '' },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);

function damaged(bundle: Record<string, unknown>, edits: readonly { readonly at: readonly (string | number)[]; readonly value: unknown }[]): unknown {
  const copy = structuredClone(bundle) as Record<string | number, unknown>;
  for (const { at, value } of edits) {
    let node: unknown = copy;
    for (const key of at.slice(0, -1)) {
      node = typeof node === 'object' && node !== null ? (node as Record<string | number, unknown>)[key] : undefined;
    }
    if (typeof node !== 'object' || node === null) continue;
    const last = at[at.length - 1]!;
    if (value === undefined) delete (node as Record<string | number, unknown>)[last];
    else (node as Record<string | number, unknown>)[last] = value;
  }
  return copy;
}

describe('generated damage: the lean path never decides differently from verifyBundle', () => {
  const good = keyedBundle(p256.privateKey);
  const other = { key: pemOf(generateKey('p256').publicKey) };

  it('same result or the same typed error, with the right key, a wrong key, and a log required', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.constantFrom(...places), value: damage }), { minLength: 1, maxLength: 3 }),
        fc.constantFrom<VerificationPolicy>(policy, other, { ...policy, requireTlog: true }),
        async (edits, trust) => {
          await agree(damaged(good, edits), trust);
        },
      ),
      { numRuns: 400 },
    );
  });
});
