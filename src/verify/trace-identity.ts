/** Fulcio certificate extensions of a bundle's signing certificate, checked against a policy. */
import type { SerializedBundle } from '@sigstore/bundle';
import { ASN1Obj, X509Certificate } from '@sigstore/core';

/** The leaf certificate (DER) a bundle carries, if any. */
export function bundleCertificate(bundle: SerializedBundle): Buffer | undefined {
  const vm = bundle.verificationMaterial as Record<string, unknown>;
  const b64 =
    (vm['certificate'] as { rawBytes?: string } | undefined)?.rawBytes ??
    (vm['x509CertificateChain'] as { certificates?: { rawBytes?: string }[] } | undefined)?.certificates?.[0]?.rawBytes;
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64');
}

/**
 * The value of a Fulcio extension: OIDs 1.3.6.1.4.1.57264.1.8 and later hold a DER UTF8String,
 * the older ones (1.1–1.6) the raw string.
 */
export function certificateExtension(der: Buffer, oid: string): string | undefined {
  let cert: X509Certificate;
  try {
    cert = X509Certificate.parse(Buffer.from(der));
  } catch {
    return undefined;
  }
  const ext = cert.extension(oid);
  if (ext === undefined) return undefined;
  const raw = ext.value;
  if (raw[0] === 0x0c) {
    try {
      return ASN1Obj.parseBuffer(Buffer.from(raw)).value.toString('utf8');
    } catch {
      return raw.toString('utf8');
    }
  }
  return raw.toString('utf8');
}

/** True when every wanted extension is present with an equal (or matching) value. */
export function certificateExtensionsMatch(bundle: SerializedBundle, wanted: Readonly<Record<string, string | RegExp>>): boolean {
  const der = bundleCertificate(bundle);
  if (der === undefined) return Object.keys(wanted).length === 0;
  return Object.entries(wanted).every(([oid, expected]) => {
    const actual = certificateExtension(der, oid);
    if (actual === undefined) return false;
    return typeof expected === 'string' ? actual === expected : expected.test(actual);
  });
}
