import { createHash, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import type { Signer, Witness } from '@sigstore/sign';
import { describe, expect, it } from 'vitest';
import { signStatement } from '../../../src/signing/bundle.js';
import { verifyBundle } from '../../../src/verify/index.js';

describe('signStatement', () => {
  it('writes the DSSE keyid empty (as cosign does) and keeps the key hint in the bundle', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const hint = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
    // KMS and PKCS#11 signers report a hint; go-securesystemslib (cosign, sigstore-go, Rekor's dsse type)
    // skips a signature whose keyid is not its own SSH-style fingerprint of the key.
    const signer: Signer = { sign: async (data) => ({ signature: cryptoSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: publicKeyPem, hint } }) };
    const seen: { keyids: string[]; verifier: string }[] = [];
    const witness: Witness = {
      testify: async (content, verifier) => {
        if (content.$case === 'dsseEnvelope') seen.push({ keyids: content.dsseEnvelope.signatures.map((s) => s.keyid), verifier: String(verifier) });
        return { tlogEntries: [] };
      },
    };

    const bundle = await signStatement(signer, Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}'), { witnesses: [witness] });
    // bundleToJSON drops the empty keyid (a proto3 default); storage writes it back as "" for cosign.
    expect(bundle.dsseEnvelope?.signatures.map((s) => s.keyid ?? '')).toEqual(['']);
    expect(bundle.verificationMaterial.publicKey?.hint).toBe(hint);
    // The witness (Rekor) saw the envelope as stored, with the empty keyid, and the signer's key.
    expect(seen).toHaveLength(1);
    expect(seen[0]?.keyids).toEqual(['']);
    expect(seen[0]?.verifier).toBe(publicKeyPem);
    verifyBundle(bundle, { key: publicKeyPem });
  });
});
