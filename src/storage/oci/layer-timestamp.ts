/**
 * cosign checks a layer's `dev.sigstore.cosign/rfc3161timestamp` against the layer's signature
 * (`.sig`: the raw signature bytes, what the bundle's timestamp covers) or, for an attestation whose
 * signature annotation is empty, against the layer bytes: the whole DSSE envelope (cosign 2.5
 * `pkg/cosign/verify.go` VerifyRFC3161Timestamp). So an `.att` layer needs its own timestamp over
 * exactly the bytes pushed; the bundle's (over the DSSE signature) would fail there.
 */
import type { SerializedBundle } from '@sigstore/bundle';
import type { Layer } from './layouts.js';
import { ANNOTATION_RFC3161_TIMESTAMP } from './layer-merge.js';

/** A signed RFC 3161 timestamp (DER, base64) over the given bytes. */
export type LayerTimestamper = (bytes: Uint8Array) => Promise<string>;

/** cosign's `bundle.RFC3161Timestamp` JSON (the Go `[]byte` field marshals as base64). */
export function rfc3161Annotation(signedTimestampBase64: string): string {
  return JSON.stringify({ SignedRFC3161Timestamp: signedTimestampBase64 });
}

/**
 * The `.att` layer with a timestamp over its bytes when the signature was timestamped (the bundle
 * carries one) and a timestamper is available; without a timestamper the bundle's timestamp, which
 * cosign would reject on this layer, is left out.
 */
export async function withAttestationTimestamp<L extends Layer>(layer: L, bundle: SerializedBundle, timestamper: LayerTimestamper | undefined): Promise<L> {
  const timestamped = (bundle.verificationMaterial?.timestampVerificationData?.rfc3161Timestamps?.length ?? 0) > 0;
  const annotations: Record<string, string> = { ...layer.descriptor.annotations };
  delete annotations[ANNOTATION_RFC3161_TIMESTAMP];
  if (timestamped && timestamper !== undefined) annotations[ANNOTATION_RFC3161_TIMESTAMP] = rfc3161Annotation(await timestamper(layer.bytes));
  return { ...layer, descriptor: { ...layer.descriptor, annotations } };
}
