/**
 * Reading registry answers within `limits` (src/limits.ts): manifests and indexes (bytes, shape,
 * layer and entry counts), blobs (bytes, streamed SHA-256 checked against the digest asked for) and
 * small JSON answers (referrers, tokens). Used by registry-client.ts; every failure is typed.
 */
import { ProvenantError, type ErrorCode } from '../../errors.js';
import { checkJsonShape, limits, readBodyBounded, violationError, type BodyErrors, type BoundedSource } from '../../limits.js';

export interface Where {
  readonly registry: string;
  readonly repository: string;
}

function bodyErrors(where: Where, code: ErrorCode, what: string, max: number): BodyErrors {
  return {
    tooLarge: (actual) =>
      new ProvenantError('input', code, `${what} from ${where.registry}/${where.repository} has ${actual} bytes, over the limit of ${max}`, {
        context: { registry: where.registry, repository: where.repository, limit: 'bytes', max, actual, hint: 'see docs/limits.md' },
      }),
    failed: (cause) =>
      new ProvenantError('transient', 'OCI_UNAVAILABLE', `${what} from ${where.registry}/${where.repository} could not be read`, {
        cause,
        context: { registry: where.registry, repository: where.repository },
      }),
  };
}

/** Limits on a manifest's own lists, checked after the generic shape walk. */
export function checkManifestDocument(json: unknown, what: string): Record<string, unknown> {
  const invalid = violationError('input', 'OCI_MANIFEST_INVALID', what);
  checkJsonShape(json, limits.manifest, invalid);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ProvenantError('permanent', 'OCI_MANIFEST_INVALID', `${what} is not a JSON object`);
  }
  const doc = json as Record<string, unknown>;
  const malformed = (field: string): ProvenantError =>
    new ProvenantError('permanent', 'OCI_MANIFEST_INVALID', `${what}: ${field} is not a list of OCI descriptors`, { context: { field } });
  for (const [field, max] of [
    ['layers', limits.manifest.maxLayers],
    ['manifests', limits.manifest.maxManifests],
  ] as const) {
    const list = doc[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw malformed(field);
    if (list.length > max) throw invalid({ limit: field, max, actual: list.length, path: `$.${field}` });
    // A read-modify-write keeps the entries it read: a malformed one must stop it, not be written back.
    if (!list.every(isDescriptor)) throw malformed(field);
  }
  if (doc['config'] !== undefined && !isDescriptor(doc['config']) && !isEmptyObject(doc['config'])) throw malformed('config');
  return doc;
}

/** `{}`: the placeholder config some writers leave before filling it in. */
function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

/** OCI image-spec descriptor grammar: `algorithm:encoded`, a media type, a size. */
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function isDescriptor(d: unknown): boolean {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
  const o = d as Record<string, unknown>;
  return (
    typeof o['digest'] === 'string' &&
    ANY_DIGEST.test(o['digest']) &&
    typeof o['mediaType'] === 'string' &&
    typeof o['size'] === 'number' &&
    Number.isSafeInteger(o['size']) &&
    o['size'] >= 0
  );
}

/** A manifest or index body: at most `limits.manifest.maxBytes`, JSON, within the manifest shape limits. */
export async function readManifestBody(
  res: BoundedSource,
  where: Where & { readonly reference: string },
): Promise<{ readonly bytes: Uint8Array; readonly digest: string; readonly json: Record<string, unknown> }> {
  const what = `manifest ${where.reference}`;
  const { bytes, digest } = await readBodyBounded(res, limits.manifest.maxBytes, bodyErrors(where, 'OCI_MANIFEST_INVALID', what, limits.manifest.maxBytes));
  // Asked by digest: the content must be that digest (a tag cannot be checked).
  if (where.reference.startsWith('sha256:') && digest !== where.reference) {
    throw new ProvenantError('permanent', 'OCI_DIGEST_MISMATCH', `${what} from ${where.registry}/${where.repository} has other content`, {
      context: { registry: where.registry, repository: where.repository },
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new ProvenantError('permanent', 'OCI_MANIFEST_INVALID', `${what} on ${where.registry} is not JSON`, { cause: err });
  }
  return { bytes, digest, json: checkManifestDocument(parsed, `${what} on ${where.registry}/${where.repository}`) };
}

/**
 * A blob body: at most `maxBytes` (the descriptor's size when the caller knows it), hashed while read,
 * and refused unless its SHA-256 is `digest` (`OCI_DIGEST_MISMATCH`).
 */
export async function readBlobBody(res: BoundedSource, digest: string, where: Where, maxBytes: number = limits.blob.maxBytes): Promise<Uint8Array> {
  const body = await readBodyBounded(res, maxBytes, bodyErrors(where, 'OCI_BLOB_INVALID', `blob ${digest}`, maxBytes));
  if (body.digest !== digest) {
    throw new ProvenantError('permanent', 'OCI_DIGEST_MISMATCH', `blob ${digest} from ${where.registry}/${where.repository} has other content`, {
      context: { registry: where.registry, repository: where.repository },
    });
  }
  return body.bytes;
}

/** A small JSON answer (referrers index, token): bounded bytes and manifest shape limits; undefined when not JSON. */
export async function readJsonAnswer(res: BoundedSource, where: Where, what: string, maxBytes: number): Promise<unknown> {
  const { bytes } = await readBodyBounded(res, maxBytes, bodyErrors(where, 'OCI_MANIFEST_INVALID', what, maxBytes));
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  checkJsonShape(parsed, limits.manifest, violationError('input', 'OCI_MANIFEST_INVALID', `${what} from ${where.registry}/${where.repository}`));
  return parsed;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * The well-formed descriptors of a manifest's `layers` or an index's `manifests`: objects with a
 * sha256 digest, a string media type and a size within `limits.blob.maxBytes`. Anything else is
 * skipped, so a hostile entry (`null`, a path in the digest) never reaches a URL or a property read.
 */
export function descriptorsOf<T extends { readonly digest: string; readonly mediaType: string }>(list: unknown): T[] {
  if (!Array.isArray(list)) return [];
  return list.filter((d): d is T => {
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
    const o = d as Record<string, unknown>;
    const annotations = o['annotations'];
    return (
      typeof o['digest'] === 'string' &&
      DIGEST.test(o['digest']) &&
      typeof o['mediaType'] === 'string' &&
      typeof o['size'] === 'number' &&
      Number.isSafeInteger(o['size']) &&
      o['size'] >= 0 &&
      o['size'] <= limits.blob.maxBytes &&
      (o['artifactType'] === undefined || typeof o['artifactType'] === 'string') &&
      (annotations === undefined ||
        (typeof annotations === 'object' && annotations !== null && Object.values(annotations).every((v) => typeof v === 'string')))
    );
  });
}

/** Counts the blob bytes one read may download (`limits.attestationsRead.maxBytes`). */
export function blobBudget(where: Where): (size: number) => void {
  let total = 0;
  const max = limits.attestationsRead.maxBytes;
  return (size) => {
    total += size;
    if (total > max) {
      throw new ProvenantError('input', 'OCI_BLOB_INVALID', `attestations of one image in ${where.registry}/${where.repository} exceed ${max} bytes`, {
        context: { registry: where.registry, repository: where.repository, limit: 'bytes', max, actual: total, hint: 'see docs/limits.md' },
      });
    }
  };
}
