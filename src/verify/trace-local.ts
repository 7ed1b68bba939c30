/**
 * Offline evidence for `trace --attestations DIR`, and `provenant export` which writes it.
 *
 * DIR is scanned recursively for `*.bundle.json` files (with their `*.payload.json` sibling when
 * present): the `local` storage layout (`<ns>/<kind>-<name>-<uid>/<shortKey>.bundle.json`) and the
 * export layout (`sha256-<hex>/<n>.bundle.json`) are both read. Each bundle is indexed by what it is
 * about: the sha256 subjects of a DSSE in-toto statement, or the `docker-manifest-digest` of a
 * simple-signing payload (image signature). Image manifests, for base-image annotations and indexes,
 * are read from `DIR/manifests/sha256-<hex>.json`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { ProvenantError, errorMessage } from '../errors.js';
import type { ImageDigestRef, OciReader, StoredAttestations, StoredSignature } from '../storage/oci/index.js';
import { dsseBundles } from './trace-classify.js';
import { keyOnlyMessageBundle, payloadForBundle, signedManifestDigest } from './trace-signature.js';
import type { EvidenceProvider, ManifestSource, TraceGraph } from './trace.js';

const BUNDLE_SUFFIX = '.bundle.json';
const PAYLOAD_SUFFIX = '.payload.json';

async function walk(dir: string, out: string[], depth = 0): Promise<void> {
  if (depth > 8) return;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (depth === 0) throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read ${dir}: ${errorMessage(err)}`, { cause: err });
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, out, depth + 1);
    else if (e.isFile() && e.name.endsWith(BUNDLE_SUFFIX)) out.push(p);
  }
}

function statementDigests(bundle: SerializedBundle): string[] {
  const env = bundle.dsseEnvelope;
  if (env === undefined) return [];
  try {
    const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { subject?: { digest?: { sha256?: unknown } }[] };
    return (statement.subject ?? []).flatMap((s) => (typeof s.digest?.sha256 === 'string' ? [`sha256:${s.digest.sha256.toLowerCase()}`] : []));
  } catch {
    return [];
  }
}

interface Indexed {
  readonly bundles: SerializedBundle[];
  readonly signatures: StoredSignature[];
}

/** Evidence read from a directory (source `local`), indexed by image digest once. */
export async function createLocalEvidence(dir: string): Promise<EvidenceProvider & { readonly count: number }> {
  const files: string[] = [];
  await walk(dir, files);
  const index = new Map<string, Indexed>();
  const slot = (digest: string): Indexed => {
    let s = index.get(digest);
    if (s === undefined) {
      s = { bundles: [], signatures: [] };
      index.set(digest, s);
    }
    return s;
  };
  for (const file of files.sort()) {
    let bundle: SerializedBundle;
    try {
      bundle = JSON.parse(await readFile(file, 'utf8')) as SerializedBundle;
    } catch {
      continue; // not a bundle: skipped, as the registry reader skips foreign layers
    }
    if (bundle.dsseEnvelope !== undefined) {
      for (const d of statementDigests(bundle)) slot(d).bundles.push(bundle);
    } else if (bundle.messageSignature !== undefined) {
      let payload: Uint8Array;
      try {
        payload = await readFile(file.slice(0, -BUNDLE_SUFFIX.length) + PAYLOAD_SUFFIX);
      } catch {
        continue; // a message signature cannot be checked without the signed payload
      }
      const digest = signedManifestDigest(payload);
      if (digest !== undefined) slot(digest).signatures.push({ payload, signature: bundle.messageSignature.signature, annotations: {}, bundle });
    }
  }
  return {
    source: 'local',
    count: files.length,
    async read(_ref: string, image: ImageDigestRef): Promise<StoredAttestations> {
      const found = index.get(image.digest);
      return { bundles: [...(found?.bundles ?? [])], envelopes: [], signatures: [...(found?.signatures ?? [])] };
    },
  };
}

/**
 * Manifests saved next to offline evidence (`DIR/manifests/sha256-<hex>.json`, exact bytes); `null`
 * when absent or when the bytes do not hash to the digest (a manifest is content-addressed).
 */
export function createLocalManifests(dir: string): ManifestSource {
  const raw = async (image: ImageDigestRef): Promise<Uint8Array | undefined> => {
    try {
      const bytes = await readFile(path.join(dir, 'manifests', `${image.digest.replace(':', '-')}.json`));
      return `sha256:${createHash('sha256').update(bytes).digest('hex')}` === image.digest ? bytes : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    raw,
    async get(image) {
      const bytes = await raw(image);
      if (bytes === undefined) return null;
      try {
        return JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
      } catch {
        return null;
      }
    },
  };
}

/**
 * `provenant export`: writes every attestation and signature stored for the graph's images, and their
 * manifests, to `out` in the layout `createLocalEvidence` reads. Returns the number of files written.
 */
export async function exportEvidence(
  graph: TraceGraph,
  deps: { readonly reader: OciReader; readonly evidence?: readonly EvidenceProvider[]; readonly manifests?: ManifestSource; readonly out: string },
): Promise<{ bundles: number; manifests: number }> {
  let bundles = 0;
  let manifests = 0;
  await mkdir(path.join(deps.out, 'manifests'), { recursive: true });
  for (const node of graph.nodes) {
    if (node.kind !== 'image' || node.verdict === 'not-found' || node.verdict === 'unreachable') continue;
    const at = node.ref.lastIndexOf('@');
    const digest = node.ref.slice(at + 1);
    const dir = path.join(deps.out, digest.replace(':', '-'));
    const registry = await deps.reader.readAttestations(node.ref);
    const repoRef = node.ref.slice(0, at);
    const image = { registry: repoRef.slice(0, repoRef.indexOf('/')), repository: repoRef.slice(repoRef.indexOf('/') + 1), digest };
    // Rekor-found entries travel too: their bundles carry the log entry, verifiable offline.
    const more = await Promise.all((deps.evidence ?? []).map((p) => p.read(node.ref, image)));
    const stored: StoredAttestations = {
      bundles: [...registry.bundles, ...more.flatMap((m) => m.bundles)],
      envelopes: [...registry.envelopes, ...more.flatMap((m) => m.envelopes)],
      signatures: [...registry.signatures, ...more.flatMap((m) => m.signatures)],
    };
    const items: { bundle: SerializedBundle; payload: Uint8Array }[] = [];
    for (const b of dsseBundles(stored)) items.push({ bundle: b, payload: Buffer.from(b.dsseEnvelope?.payload ?? '', 'base64') });
    for (const s of stored.signatures) items.push({ bundle: s.bundle ?? keyOnlyMessageBundle(s.payload, s.signature), payload: s.payload });
    const sigs = new Set(stored.signatures.map((s) => s.signature));
    const seen = new Set<string>();
    for (const b of stored.bundles) {
      if (b.messageSignature === undefined || sigs.has(b.messageSignature.signature)) continue;
      const payload = payloadForBundle(b, stored.signatures.map((s) => s.payload), { name: node.ref.slice(0, at), digest });
      if (payload !== undefined) items.push({ bundle: b, payload });
    }
    if (items.length > 0) await mkdir(dir, { recursive: true });
    for (const item of items) {
      const key = JSON.stringify(item.bundle);
      if (seen.has(key)) continue;
      seen.add(key);
      const name = createHash('sha256').update(JSON.stringify(item.bundle)).digest('hex').slice(0, 16);
      await writeFile(path.join(dir, `${name}${BUNDLE_SUFFIX}`), `${JSON.stringify(item.bundle, null, 2)}\n`);
      await writeFile(path.join(dir, `${name}${PAYLOAD_SUFFIX}`), item.payload);
      bundles++;
    }
    const manifest = await deps.manifests?.raw?.(image);
    if (manifest !== undefined) {
      await writeFile(path.join(deps.out, 'manifests', `${digest.replace(':', '-')}.json`), manifest);
      manifests++;
    }
  }
  return { bundles, manifests };
}
