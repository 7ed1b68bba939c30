/**
 * How a new `.sig`/`.att` layer joins the layers already under the tag, without ever losing
 * verification material (pure; docs/oci-layout.md):
 *
 * - A layer is identified by its signature: media type, digest, and `dev.cosignproject.cosign/signature`.
 *   For `.att` the signature is inside the envelope (the digest covers it; the annotation is empty);
 *   for `.sig` the payload is the same for every signature of an image, so the annotation tells them apart.
 * - Same signature → one layer. The one with more verification material wins (a Rekor bundle counts
 *   more than an RFC 3161 timestamp, either more than neither); the other's annotations are merged in
 *   when both name the same certificate (or one names none). With two different certificates, the
 *   winner is kept as it is: a Rekor bundle is only valid with the certificate it logged.
 * - Different signatures over the same payload → both stay, as `cosign sign` leaves them (cosign 2.5's
 *   dupe detector only drops a layer whose signature verifies with the new key and whose annotations
 *   all match).
 */
import type { Descriptor } from './registry-client.js';

export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
export const ANNOTATION_CERTIFICATE = 'dev.sigstore.cosign/certificate';
export const ANNOTATION_REKOR_BUNDLE = 'dev.sigstore.cosign/bundle';
export const ANNOTATION_RFC3161_TIMESTAMP = 'dev.sigstore.cosign/rfc3161timestamp';

type Annotations = Readonly<Record<string, string>>;

function annotationsOf(d: Descriptor): Annotations {
  return d.annotations ?? {};
}

/** The signature a layer carries: equal keys mean the same signature. */
export function signatureIdentity(d: Descriptor): string {
  return JSON.stringify([d.mediaType, d.digest, annotationsOf(d)[ANNOTATION_SIGNATURE] ?? '']);
}

/** How much verification material a layer carries: Rekor bundle 2, RFC 3161 timestamp 1, both 3. */
export function verificationStrength(d: Descriptor): number {
  const a = annotationsOf(d);
  return (a[ANNOTATION_REKOR_BUNDLE] ? 2 : 0) + (a[ANNOTATION_RFC3161_TIMESTAMP] ? 1 : 0);
}

function sameAnnotations(a: Annotations, b: Annotations): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/** One layer for two copies of the same signature (see the rules above). `existing` wins ties. */
export function mergeSameSignature(existing: Descriptor, added: Descriptor): Descriptor {
  const [winner, loser] = verificationStrength(added) > verificationStrength(existing) ? [added, existing] : [existing, added];
  const w = annotationsOf(winner);
  const l = annotationsOf(loser);
  const certW = w[ANNOTATION_CERTIFICATE];
  const certL = l[ANNOTATION_CERTIFICATE];
  const compatible = certW === undefined || certL === undefined || certW === certL;
  if (!compatible) return winner;
  return { ...winner, annotations: { ...l, ...w } };
}

/**
 * The layers after adding `add` to `existing` (order kept; a merged layer stays where it was).
 * `changed: false` means the manifest already holds everything `add` brings.
 */
export function mergeSignatureLayers(existing: readonly Descriptor[], add: readonly Descriptor[]): { layers: Descriptor[]; changed: boolean } {
  const layers = [...existing];
  let changed = false;
  for (const d of add) {
    const id = signatureIdentity(d);
    const at = layers.findIndex((l) => signatureIdentity(l) === id);
    if (at < 0) {
      layers.push(d);
      changed = true;
      continue;
    }
    const current = layers[at] as Descriptor;
    const merged = mergeSameSignature(current, d);
    if (!sameAnnotations(annotationsOf(merged), annotationsOf(current))) {
      layers[at] = merged;
      changed = true;
    }
  }
  return { layers, changed };
}

/** True when `layers` already hold everything `add` brings (what a tag writer checks after its PUT). */
export function hasSignatureLayers(layers: readonly Descriptor[], add: readonly Descriptor[]): boolean {
  return !mergeSignatureLayers(layers, add).changed;
}
