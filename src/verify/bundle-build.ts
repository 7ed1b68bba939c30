/**
 * Sigstore bundles built around what storage holds (a cosign `.att` DSSE envelope, a `.sig`
 * simple-signing signature, run annotations): the shape `verifyBundle` accepts. No Sigstore package
 * is loaded here (only types), so `verify --image` builds them without @sigstore/core.
 */
import { createHash } from 'node:crypto';
import type { SerializedBundle, SerializedEnvelope } from '@sigstore/bundle';

export const bundleV03MediaType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const inTotoPayloadType = 'application/vnd.in-toto+json';

function pemToDerB64(pemText: string): string | undefined {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pemText);
  return m?.[1] === undefined ? undefined : m[1].replace(/\s+/g, '');
}

function verificationMaterial(certificatePem: string | undefined, hint: string): SerializedBundle['verificationMaterial'] {
  const der = certificatePem === undefined ? undefined : pemToDerB64(certificatePem);
  return {
    ...(der === undefined ? { publicKey: { hint } } : { certificate: { rawBytes: der } }),
    tlogEntries: [],
    timestampVerificationData: { rfc3161Timestamps: [] },
  } as unknown as SerializedBundle['verificationMaterial'];
}

/** A v0.3 bundle around a DSSE envelope (signed with a key, or with `certificatePem`). */
export function bundleFromEnvelope(envelope: SerializedEnvelope, certificatePem?: string): SerializedBundle {
  return {
    mediaType: bundleV03MediaType,
    verificationMaterial: verificationMaterial(certificatePem, envelope.signatures[0]?.keyid ?? ''),
    dsseEnvelope: envelope,
  } as SerializedBundle;
}

/** A v0.3 message-signature bundle over `payload` (a cosign simple-signing signature). */
export function bundleFromMessageSignature(payload: Uint8Array, signatureB64: string, certificatePem?: string): SerializedBundle {
  return {
    mediaType: bundleV03MediaType,
    verificationMaterial: verificationMaterial(certificatePem, ''),
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
      signature: signatureB64,
    },
  } as SerializedBundle;
}
