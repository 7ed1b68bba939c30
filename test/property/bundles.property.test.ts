// Property tests at the bundle boundary: mutations of a valid Sigstore bundle through verifyBundle
// (what `verify`/`trace` trust) and describeBundle (what `inspect` prints without trusting).
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SerializedBundle } from '@sigstore/bundle';
import { isProvenantError } from '../../src/errors.js';
import { createEphemeralSigner } from '../../src/signing/ephemeral-signer.js';
import { signStatement } from '../../src/signing/bundle.js';
import { describeBundle, verifyBundle, type VerifiedArtifact } from '../../src/verify/index.js';
import { fuzzParameters, fuzzTimeout, mutate, mutationOf } from '../support/fuzz.js';
import { statement } from '../unit/signing/helpers.js';

const payload = Buffer.from(JSON.stringify(statement));
let bundle: SerializedBundle;
let keyPem: string;
const emptyRoot = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };

beforeAll(async () => {
  const signer = createEphemeralSigner();
  keyPem = signer.publicKeyPem;
  bundle = await signStatement(signer, payload);
});

/** The verified artifact, or the error code; an untyped throw fails the property. */
function verifyOutcome(b: unknown, policy: Parameters<typeof verifyBundle>[1] = { key: keyPem }): VerifiedArtifact | string {
  try {
    return verifyBundle(b, policy);
  } catch (err) {
    if (isProvenantError(err)) return err.code;
    throw err;
  }
}

function describeOutcome(b: unknown): string {
  try {
    return JSON.stringify(describeBundle(b as SerializedBundle));
  } catch (err) {
    if (isProvenantError(err)) return err.code;
    throw err;
  }
}

describe('bundles: property tests over mutated valid bundles', () => {
  it(
    'any mutation: a typed error, or verified only for exactly the signed payload',
    () => {
      fc.assert(
        fc.property(fc.constant(null).chain(() => mutationOf(bundle)), ({ path, mutation }) => {
          const mutated = mutate(bundle, path, mutation);
          const v = verifyOutcome(mutated);
          if (typeof v !== 'string') {
            expect(v.payload.equals(payload)).toBe(true);
            expect(v.payloadType).toBe('application/vnd.in-toto+json');
          }
          describeOutcome(mutated);
        }),
        fuzzParameters(150),
      );
    },
    fuzzTimeout(30_000),
  );

  it(
    'a flipped bit in the payload, the signature or the payload type is never verified',
    () => {
      fc.assert(
        fc.property(fc.constantFrom('payload', 'sig', 'payloadType'), fc.nat(), fc.integer({ min: 0, max: 7 }), (field, at, bit) => {
          const copy = structuredClone(bundle) as unknown as { dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] } };
          const env = copy.dsseEnvelope;
          if (field === 'payloadType') {
            const chars = [...env.payloadType];
            const i = at % chars.length;
            chars[i] = String.fromCharCode(chars[i]!.charCodeAt(0) ^ (1 << bit));
            env.payloadType = chars.join('');
          } else {
            const b64 = field === 'payload' ? env.payload : env.signatures[0]!.sig;
            const bytes = Buffer.from(b64, 'base64');
            bytes[at % bytes.length] = bytes[at % bytes.length]! ^ (1 << bit);
            if (field === 'payload') env.payload = bytes.toString('base64');
            else env.signatures[0]!.sig = bytes.toString('base64');
          }
          expect(typeof verifyOutcome(copy)).toBe('string');
        }),
        fuzzParameters(100),
      );
    },
    fuzzTimeout(30_000),
  );

  it(
    'ignored fields (key hint, DSSE keyid) leave the verified result unchanged',
    () => {
      const base = verifyOutcome(bundle);
      expect(typeof base).not.toBe('string');
      fc.assert(
        fc.property(fc.string({ maxLength: 64 }), fc.string({ maxLength: 64 }), (hint, keyid) => {
          const copy = structuredClone(bundle) as unknown as {
            verificationMaterial: { publicKey?: { hint: string } };
            dsseEnvelope: { signatures: { keyid: string }[] };
          };
          if (copy.verificationMaterial.publicKey !== undefined) copy.verificationMaterial.publicKey.hint = hint;
          copy.dsseEnvelope.signatures[0]!.keyid = keyid;
          expect(verifyOutcome(copy)).toEqual(base);
        }),
        fuzzParameters(50),
      );
    },
    fuzzTimeout(30_000),
  );

  it(
    'arbitrary certificate bytes (keyless policy) give a typed error',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (der, chain) => {
          const copy = structuredClone(bundle) as unknown as { verificationMaterial: Record<string, unknown> };
          const rawBytes = Buffer.from(der).toString('base64');
          delete copy.verificationMaterial['publicKey'];
          if (chain) copy.verificationMaterial['x509CertificateChain'] = { certificates: [{ rawBytes }] };
          else copy.verificationMaterial['certificate'] = { rawBytes };
          const out = verifyOutcome(copy, { identity: { san: 'x', issuer: 'y' }, trustedRoot: emptyRoot });
          expect(typeof out).toBe('string');
          describeOutcome(copy);
        }),
        fuzzParameters(100),
      );
    },
    fuzzTimeout(30_000),
  );
});
