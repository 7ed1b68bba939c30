/**
 * `limits.bundle` / `limits.certificate` / `limits.statement` for Sigstore bundles read from files,
 * registries and annotations, checked before `@sigstore/bundle` and `@sigstore/core` parse them (their
 * ASN.1 parser recurses over the certificate's nesting).
 */
import { ProvenantError } from '../errors.js';
import { asn1Depth, checkJsonShape, limits, violationError } from '../limits.js';

const bundleTooBig = violationError('input', 'VERIFY_BUNDLE_INVALID', 'bundle');

function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function count(list: unknown, limit: string, max: number, path: string): void {
  if (Array.isArray(list) && list.length > max) throw bundleTooBig({ limit, max, actual: list.length, path });
}

/** One certificate (base64 DER, as bundles carry it): size and ASN.1 depth. */
export function checkCertificateLimits(rawBytes: unknown, path: string): void {
  if (typeof rawBytes !== 'string') return; // the bundle parser reports the type
  const der = Buffer.from(rawBytes, 'base64');
  const fail = (limit: string, max: number, actual: number): never => {
    throw new ProvenantError('input', 'VERIFY_CERTIFICATE_INVALID', `certificate at ${path}: ${limit} ${actual} exceeds the limit of ${max}`, {
      context: { limit, max, actual, path, hint: 'see docs/limits.md' },
    });
  };
  if (der.length > limits.certificate.maxBytes) fail('bytes', limits.certificate.maxBytes, der.length);
  const depth = asn1Depth(der, limits.certificate.maxAsn1Depth);
  if (depth > limits.certificate.maxAsn1Depth) fail('ASN.1 depth', limits.certificate.maxAsn1Depth, depth);
}

/** Shape, list and certificate limits of a serialized bundle (JSON value). */
export function checkBundleLimits(json: unknown): void {
  checkJsonShape(json, limits.bundle, bundleTooBig);
  const b = rec(json);
  const material = rec(b?.['verificationMaterial']);
  count(material?.['tlogEntries'], 'tlog entries', limits.bundle.maxTlogEntries, '$.verificationMaterial.tlogEntries');
  count(rec(material?.['timestampVerificationData'])?.['rfc3161Timestamps'], 'timestamps', limits.bundle.maxTimestamps, '$.verificationMaterial.timestampVerificationData');
  const chain = rec(material?.['x509CertificateChain'])?.['certificates'];
  count(chain, 'certificates', limits.bundle.maxCertificates, '$.verificationMaterial.x509CertificateChain.certificates');
  if (Array.isArray(chain)) chain.forEach((c, i) => checkCertificateLimits(rec(c)?.['rawBytes'], `$.verificationMaterial.x509CertificateChain.certificates[${i}]`));
  checkCertificateLimits(rec(material?.['certificate'])?.['rawBytes'], '$.verificationMaterial.certificate');
  const envelope = rec(b?.['dsseEnvelope']);
  count(envelope?.['signatures'], 'signatures', limits.bundle.maxSignatures, '$.dsseEnvelope.signatures');
  const payload = envelope?.['payload'];
  const maxPayload = Math.ceil((limits.statement.maxBytes * 4) / 3) + 4;
  if (typeof payload === 'string' && payload.length > maxPayload) {
    throw bundleTooBig({ limit: 'payload bytes', max: maxPayload, actual: payload.length, path: '$.dsseEnvelope.payload' });
  }
}

/** The signed statement (DSSE payload bytes) within `limits.statement`, parsed; `VERIFY_PAYLOAD_INVALID` otherwise. */
export function parseStatementBounded(payload: Buffer): Record<string, unknown> {
  const invalid = (cause?: unknown): ProvenantError =>
    new ProvenantError('permanent', 'VERIFY_PAYLOAD_INVALID', 'the signed in-toto payload is not a JSON object', cause === undefined ? {} : { cause });
  if (payload.length > limits.statement.maxBytes) {
    throw violationError('input', 'VERIFY_PAYLOAD_INVALID', 'statement')({ limit: 'bytes', max: limits.statement.maxBytes, actual: payload.length, path: '$' });
  }
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (cause) {
    throw invalid(cause);
  }
  checkJsonShape(value, limits.statement, violationError('input', 'VERIFY_PAYLOAD_INVALID', 'statement'));
  const o = rec(value);
  if (o === undefined) throw invalid();
  return o;
}
