// The TSA witness, and the reproduction of @sigstore/core's GeneralizedTime fraction bug it works around.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { ASN1Obj } from '@sigstore/core';
import { initializeTSA } from '@sigstore/mock';
import type { SignatureBundle, VerificationMaterial, Witness } from '@sigstore/sign';
import { describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../../src/observability/index.js';
import { createTsaWitness, isReadableTimestamp } from '../../../src/transparency/index.js';

const generalizedTime = (text: string): Buffer<ArrayBuffer> => Buffer.from([0x18, text.length, ...Buffer.from(text, 'ascii')]);

async function tokenAt(iso: string): Promise<Uint8Array> {
  const tsa = await initializeTSA(generateKeyPairSync('ec', { namedCurve: 'P-256' }), new Date(iso));
  const token = await tsa.timestamp({
    artifactHash: createHash('sha256').update('sig').digest(),
    hashAlgorithmOID: '2.16.840.1.101.3.4.2.1',
    nonce: 1,
    policyOID: '1.2.3.4',
  });
  return Buffer.from(token.buffer, token.byteOffset, token.byteLength);
}

const content: SignatureBundle = {
  $case: 'messageSignature',
  messageSignature: { signature: Buffer.from('sig'), messageDigest: undefined as never },
};

describe('@sigstore/core GeneralizedTime fractions (reproduction, @sigstore/core 4.0.1)', () => {
  it('parses a three-digit fraction but rejects the DER form of 120 ms (".12Z": DER drops trailing zeros)', () => {
    expect(ASN1Obj.parseBuffer(generalizedTime('20260101000000.123Z')).toDate().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(() => ASN1Obj.parseBuffer(generalizedTime('20260101000000.12Z')).toDate()).toThrow();
    expect(() => ASN1Obj.parseBuffer(generalizedTime('20260101000000.1Z')).toDate()).toThrow();
  });

  it('so a TSA token issued at a whole 10 ms is unreadable to sigstore-js', async () => {
    expect(isReadableTimestamp(await tokenAt('2026-01-01T00:00:00.123Z'))).toBe(true);
    expect(isReadableTimestamp(await tokenAt('2026-01-01T00:00:00.120Z'))).toBe(false);
    expect(isReadableTimestamp(await tokenAt('2026-01-01T00:00:00.100Z'))).toBe(false);
  });
});

describe('createTsaWitness', () => {
  function scripted(tokens: Uint8Array[]): Witness & { calls: number } {
    const w = {
      calls: 0,
      testify: async (): Promise<VerificationMaterial> => {
        const token = tokens[Math.min(w.calls, tokens.length - 1)] as Uint8Array;
        w.calls += 1;
        return { rfc3161Timestamps: [{ signedTimestamp: Buffer.from(token) }] };
      },
    };
    return w;
  }

  it('asks again when the token is unreadable, and returns the first readable one', async () => {
    const good = await tokenAt('2026-01-01T00:00:00.123Z');
    const inner = scripted([await tokenAt('2026-01-01T00:00:00.120Z'), good]);
    const witness = createTsaWitness({ url: 'http://tsa.invalid', logger: createCapturingLogger().logger, witness: inner });
    const material = await witness.testify(content, '');
    expect(inner.calls).toBe(2);
    expect(Buffer.from(material.rfc3161Timestamps?.[0]?.signedTimestamp ?? []).equals(Buffer.from(good))).toBe(true);
  });

  it('gives up after the attempts with a transient TSA_TIMESTAMP_UNPARSEABLE', async () => {
    const inner = scripted([await tokenAt('2026-01-01T00:00:00.120Z')]);
    const witness = createTsaWitness({ url: 'http://tsa.invalid', logger: createCapturingLogger().logger, witness: inner, attempts: 3 });
    await expect(witness.testify(content, '')).rejects.toMatchObject({ kind: 'transient', code: 'TSA_TIMESTAMP_UNPARSEABLE' });
    expect(inner.calls).toBe(3);
  });

  it('classifies failures: 4xx permanent TSA_REJECTED, 5xx/network transient TSA_UNAVAILABLE', async () => {
    const failing = (statusCode: number | undefined): Witness => ({
      testify: async () => {
        throw Object.assign(new Error('tsa said no'), { cause: statusCode === undefined ? undefined : { statusCode } });
      },
    });
    const make = (s: number | undefined) => createTsaWitness({ url: 'http://tsa.invalid', logger: createCapturingLogger().logger, witness: failing(s) });
    await expect(make(400).testify(content, '')).rejects.toMatchObject({ kind: 'permanent', code: 'TSA_REJECTED' });
    await expect(make(503).testify(content, '')).rejects.toMatchObject({ kind: 'transient', code: 'TSA_UNAVAILABLE' });
    await expect(make(undefined).testify(content, '')).rejects.toMatchObject({ kind: 'transient', code: 'TSA_UNAVAILABLE' });
  });

  it('timestamp(bytes) returns a base64 token over those bytes', async () => {
    const good = await tokenAt('2026-01-01T00:00:00.123Z');
    let seen: SignatureBundle | undefined;
    const witness = createTsaWitness({
      url: 'http://tsa.invalid',
      logger: createCapturingLogger().logger,
      witness: { testify: async (c) => ((seen = c), { rfc3161Timestamps: [{ signedTimestamp: Buffer.from(good) }] }) },
    });
    expect(await witness.timestamp(Buffer.from('envelope'))).toBe(Buffer.from(good).toString('base64'));
    expect(seen?.$case === 'messageSignature' && seen.messageSignature.signature.toString()).toBe('envelope');
  });
});
