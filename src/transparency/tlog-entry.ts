/** Reading the transparency log entry out of a Sigstore bundle, and Chains' annotation value for it. */
import { envelopeFromJSON, envelopeToJSON, type SerializedBundle } from '@sigstore/bundle';

export interface TlogEntrySummary {
  /** Position in the log (Rekor's `logIndex`). */
  readonly logIndex: number;
  /** Seconds since the epoch at which Rekor integrated the entry. */
  readonly integratedTime: number;
  /** Log ID: hex SHA-256 of the log's public key (as Rekor prints it). */
  readonly logId: string;
}

/**
 * `chains.tekton.dev/transparency` as Chains writes it: `<transparency.url>/api/v1/log/entries?logIndex=<N>`.
 * A trailing slash on the URL is dropped so the value is the same whichever way the URL was configured.
 */
export function transparencyAnnotationValue(url: string, logIndex: number | string): string {
  return `${url.replace(/\/+$/, '')}/api/v1/log/entries?logIndex=${String(logIndex)}`;
}

/** The first transparency log entry of a bundle, or undefined when it was never logged. */
export function tlogEntryOf(bundle: SerializedBundle): TlogEntrySummary | undefined {
  // bundleToJSON omits an empty list, whatever the type says.
  const entry = (bundle.verificationMaterial as Partial<SerializedBundle['verificationMaterial']> | undefined)?.tlogEntries?.[0];
  if (entry === undefined) return undefined;
  // Protobuf JSON omits zero values: the first entry of a log (logIndex 0) has no logIndex field.
  return {
    logIndex: Number((entry as { logIndex?: string }).logIndex ?? 0),
    integratedTime: Number(entry.integratedTime),
    logId: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
  };
}

/**
 * The DSSE envelope JSON exactly as sigstore-js sends it to Rekor in a `dsse` entry. Rekor records
 * sha256 of these bytes as `envelopeHash` and cosign compares it with what it downloads, so a backend
 * that stores the envelope as bytes (OCI layer, annotation) must store these bytes.
 */
export function envelopeJsonOf(bundle: SerializedBundle): string | undefined {
  if (bundle.dsseEnvelope === undefined) return undefined;
  return JSON.stringify(envelopeToJSON(envelopeFromJSON(bundle.dsseEnvelope)));
}
