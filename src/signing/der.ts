/**
 * Small DER helpers shared by the KMS and PKCS#11 signers. DSSE verifiers in sigstore-js expect
 * ASN.1 DER ECDSA signatures, while HSMs (CKM_ECDSA) return raw r||s; public keys arrive as DER
 * SPKI (AWS, PKCS#11) and are handed to `@sigstore/sign` as PEM.
 */
import { ProvenantError } from '../errors.js';

/** DER INTEGER content for an unsigned big-endian number: minimal length, 0x00 pad when the high bit is set. */
function derUnsignedInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = Buffer.from(bytes.subarray(start));
  const needsPad = (trimmed[0] ?? 0) & 0x80;
  const body = needsPad ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  return Buffer.from([0x82, (length >> 8) & 0xff, length & 0xff]);
}

/**
 * Raw ECDSA signature (r||s, each half the same width, e.g. 64 bytes for P-256, 96 for P-384)
 * to ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }`.
 */
export function rawEcdsaToDer(raw: Uint8Array): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new ProvenantError('permanent', 'SIGNATURE_MALFORMED', `raw ECDSA signature has odd or zero length ${raw.length}`);
  }
  const half = raw.length / 2;
  const r = derUnsignedInteger(raw.subarray(0, half));
  const s = derUnsignedInteger(raw.subarray(half));
  const body = Buffer.concat([r, s]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** DER SPKI bytes to a PEM `PUBLIC KEY` block (64-column base64, trailing newline). */
export function spkiDerToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}
