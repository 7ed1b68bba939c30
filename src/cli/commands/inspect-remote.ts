/**
 * `inspect --gcs-bucket` / `--archivista-url` / `--docdb-url` / `--grafeas-project`: attestations the `gcs`,
 * `archivista`, `docdb` and `grafeas` backends stored for a run. docdb documents are read by Chains' key
 * (`<kind>-<uid>`, then the image signatures' 12-hex keys of the provenance's image subjects); the MongoDB
 * connection string comes from `$MONGO_SERVER_URL_PATH` (a file) or `$MONGO_SERVER_URL`.
 * GCS objects hold the same bytes as the tekton annotations, so they are decoded the same way; Archivista
 * is found through the gitoid annotations the backend recorded on the run; Grafeas occurrences are listed by
 * the run's artifact URIs (its type-hinted results, and the subjects of provenance found elsewhere), as
 * Chains' `RetrievePayloads` does. The SDKs load only when asked.
 */
import type { SerializedEnvelope } from '@sigstore/bundle';
import type { SerializedBundle } from '@sigstore/bundle';
import type { StorageOptions } from '@google-cloud/storage';
import { errorMessage, isProvenantError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import type { ArtifactSubject } from '../../provenance/index.js';
import type { GrafeasClientOptions, GrafeasOccurrence } from '../../storage/grafeas-storage.js';
import type { RunKind } from '../../tekton/index.js';
import { artifactsFromAnnotations, bundleFromEnvelope, bundleFromMessageSignature, describeBundle, type AttestationDescription } from '../../verify/index.js';

export type RemoteAttestation = AttestationDescription & {
  readonly source: 'gcs' | 'archivista' | 'docdb' | 'grafeas';
  readonly location: string;
  readonly shortKey?: string;
  readonly warnings?: readonly string[];
};

export interface GrafeasReadOptions {
  /** `storage.grafeas.projectid`. */
  readonly grafeasProject?: string | undefined;
  /** `storage.grafeas.noteid`; default `tekton-<run namespace>`. */
  readonly grafeasNote?: string | undefined;
  /** `storage.grafeas.server`; default `https://containeranalysis.googleapis.com`. */
  readonly grafeasServer?: string | undefined;
  readonly grafeasClientOptions?: GrafeasClientOptions;
}

/**
 * One Grafeas occurrence as a Sigstore bundle (what `verifyBundle`/`describeBundle` take). BUILD: `sig` is the
 * DSSE envelope JSON Chains' signer returned (or, from other writers, the raw signature over the envelope's
 * payload); ATTESTATION: the raw signature over the simple-signing payload. Grafeas holds no certificate:
 * keyless signatures verify only through their Rekor entry.
 */
export function grafeasOccurrenceBundle(o: GrafeasOccurrence): { readonly bundle: SerializedBundle; readonly payload: Buffer; readonly type: 'provenance' | 'image-signature'; readonly warnings: string[] } {
  const sig = o.signatures[0];
  if (sig === undefined) throw new Error(`occurrence ${o.name} has no envelope signature`);
  if (o.kind === 'ATTESTATION' || o.payloadType === 'application/vnd.dev.cosign.simplesigning.v1+json') {
    return { bundle: bundleFromMessageSignature(o.payload, sig.sig.toString('base64')), payload: o.payload, type: 'image-signature', warnings: [] };
  }
  const warnings: string[] = [];
  let envelope: SerializedEnvelope | undefined;
  try {
    const parsed = JSON.parse(sig.sig.toString('utf8')) as Partial<SerializedEnvelope>;
    if (typeof parsed.payload === 'string' && Array.isArray(parsed.signatures)) envelope = parsed as SerializedEnvelope;
  } catch {
    // not JSON: a raw DSSE signature
  }
  envelope ??= { payload: o.payload.toString('base64'), payloadType: o.payloadType, signatures: [{ sig: sig.sig.toString('base64'), keyid: sig.keyid }] };
  if (!Buffer.from(envelope.payload, 'base64').equals(o.payload)) warnings.push('the occurrence payload differs from the signed envelope payload (changed after signing)');
  return { bundle: bundleFromEnvelope(envelope), payload: Buffer.from(envelope.payload, 'base64'), type: 'provenance', warnings };
}

/** Resource URIs of a run's artifacts: its type-hinted results (both subject styles) and the given subjects. */
async function runResourceUris(raw: unknown, subjects: readonly ArtifactSubject[]): Promise<string[]> {
  const [{ parseRun }, { subjectsFromResults, subjectsFromBuildArtifacts }, { grafeasResourceUris }] = await Promise.all([
    import('../../tekton/index.js'),
    import('../../provenance/index.js'),
    import('../../storage/grafeas-storage.js'),
  ]);
  let fromRun: ArtifactSubject[] = [];
  try {
    const results = parseRun(raw, { requireMetadata: false }).status.results;
    fromRun = [...subjectsFromResults(results), ...subjectsFromBuildArtifacts(results)];
  } catch {
    // a run we cannot parse still has the subjects found in other stores
  }
  return grafeasResourceUris([...fromRun, ...subjects]);
}

/** `inspect --grafeas-project`: the occurrences stored for the run's artifacts, decoded. */
export async function grafeasAttestations(
  run: { readonly kind: RunKind; readonly namespace: string; readonly raw?: unknown },
  options: GrafeasReadOptions & { readonly subjects?: readonly ArtifactSubject[] },
  notes: string[],
): Promise<RemoteAttestation[]> {
  const project = options.grafeasProject;
  if (project === undefined) return [];
  const { readGrafeas, grafeasNotePrefix } = await import('../../storage/grafeas-storage.js');
  const uris = await runResourceUris(run.raw, options.subjects ?? []);
  if (uris.length === 0) {
    notes.push('grafeas: the run names no artifacts (no type-hinted results), so no occurrences to look up');
    return [];
  }
  const out: RemoteAttestation[] = [];
  try {
    const occurrences = await readGrafeas(
      {
        projectId: project,
        notePrefix: grafeasNotePrefix(options.grafeasNote, run.namespace),
        ...(options.grafeasServer === undefined ? {} : { server: options.grafeasServer }),
        ...(options.grafeasClientOptions === undefined ? {} : { clientOptions: options.grafeasClientOptions }),
      },
      uris,
      { kinds: [run.kind] },
    );
    if (occurrences.length === 0) notes.push(`grafeas projects/${project}: no occurrences for ${uris.join(', ')}`);
    for (const o of occurrences) {
      try {
        const b = grafeasOccurrenceBundle(o);
        out.push({
          ...describeBundle(b.bundle, b.payload),
          source: 'grafeas',
          location: `${o.name} (${o.kind} ${o.resourceUri}, note ${o.noteName})`,
          ...(b.warnings.length > 0 ? { warnings: b.warnings } : {}),
        });
      } catch (err) {
        notes.push(`grafeas ${o.name}: not decodable (${errorMessage(err)})`);
      }
    }
  } catch (err) {
    notes.push(`grafeas projects/${project}: not readable (${isProvenantError(err) ? err.code : errorMessage(err)})`);
  }
  return out;
}

const gitoidPrefix = 'chains.tekton.dev/archivista-gitoid-';

export async function remoteStoreAttestations(
  run: { readonly kind: RunKind; readonly namespace: string; readonly name: string; readonly uid: string; readonly annotations: Readonly<Record<string, string>> },
  options: {
    readonly gcsBucket?: string | undefined;
    readonly archivistaUrl?: string | undefined;
    readonly docdbUrl?: string | undefined;
    readonly gcsOptions?: StorageOptions;
    readonly env?: Readonly<Record<string, string | undefined>>;
  },
  notes: string[],
): Promise<RemoteAttestation[]> {
  const out: RemoteAttestation[] = [];
  if (options.gcsBucket !== undefined) {
    const { readGcs, gcsObjectPrefix } = await import('../../storage/gcs-storage.js');
    const shortKey = `${run.kind.toLowerCase()}-${run.uid}`;
    try {
      const deps = { bucket: options.gcsBucket, logger: createLogger({ level: 'silent' }), ...(options.gcsOptions === undefined ? {} : { gcsOptions: options.gcsOptions }) };
      const entry = await readGcs(deps, run, shortKey);
      if (entry === undefined) notes.push(`gs://${options.gcsBucket}/${gcsObjectPrefix(run, shortKey)}.*: nothing stored`);
      else {
        const b64 = (v: Buffer | undefined): string => (v ?? Buffer.alloc(0)).toString('base64');
        const annotations = {
          [`chains.tekton.dev/payload-${shortKey}`]: b64(entry.payload),
          [`chains.tekton.dev/signature-${shortKey}`]: b64(entry.signature),
          [`chains.tekton.dev/cert-${shortKey}`]: b64(entry.cert),
          [`chains.tekton.dev/chain-${shortKey}`]: b64(entry.chain),
        };
        for (const a of artifactsFromAnnotations(annotations)) {
          out.push({ ...describeBundle(a.bundle, a.payload), source: 'gcs', location: `gs://${options.gcsBucket}/${gcsObjectPrefix(run, shortKey)}.signature`, shortKey });
        }
      }
    } catch (err) {
      notes.push(`gs://${options.gcsBucket}: not readable (${isProvenantError(err) ? err.code : errorMessage(err)})`);
    }
  }
  if (options.archivistaUrl !== undefined) {
    const { readArchivista } = await import('../../storage/archivista-storage.js');
    const gitoids = Object.entries(run.annotations).filter(([k]) => k.startsWith(gitoidPrefix));
    if (gitoids.length === 0) notes.push('no archivista gitoid recorded on the run');
    for (const [key, gitoid] of gitoids) {
      try {
        const envelope = await readArchivista({ url: options.archivistaUrl }, gitoid);
        if (envelope === undefined) notes.push(`archivista: ${gitoid} not found`);
        else {
          const bundle = bundleFromEnvelope(JSON.parse(envelope.toString('utf8')) as SerializedEnvelope);
          out.push({ ...describeBundle(bundle), source: 'archivista', location: `${options.archivistaUrl.replace(/\/+$/, '')}/download/${gitoid}`, shortKey: key.slice(gitoidPrefix.length) });
        }
      } catch (err) {
        notes.push(`archivista ${gitoid}: not readable (${isProvenantError(err) ? err.code : errorMessage(err)})`);
      }
    }
  }
  if (options.docdbUrl !== undefined) out.push(...(await docdbAttestations(run, options.docdbUrl, options.env ?? process.env, notes)));
  return out;
}

async function docdbAttestations(run: { readonly kind: RunKind; readonly uid: string }, url: string, env: Readonly<Record<string, string | undefined>>, notes: string[]): Promise<RemoteAttestation[]> {
  const { parseDocdbUrl } = await import('../../config/index.js');
  const parsed = parseDocdbUrl(url);
  if (!parsed.ok) {
    notes.push(`--docdb-url: ${parsed.problem}`);
    return [];
  }
  const { annotationsOfDocument, openDocdbCollection } = await import('../../storage/docdb-storage.js');
  const { docdbReaderConfig } = await import('./trace-stores.js');
  const collection = openDocdbCollection({ config: docdbReaderConfig(url, env), logger: createLogger({ level: 'silent' }), env });
  const out: RemoteAttestation[] = [];
  try {
    const shortKey = `${run.kind.toLowerCase()}-${run.uid}`;
    const doc = await collection.get(shortKey);
    if (doc === undefined) {
      notes.push(`${collection.location}: no document ${shortKey}`);
      return out;
    }
    const docs = [doc];
    for (const a of artifactsFromAnnotations(annotationsOfDocument(doc))) {
      for (const s of a.type === 'provenance' ? describeBundle(a.bundle, a.payload).subjects : []) {
        const hex = s.digest['sha256'];
        const image = hex === undefined ? undefined : await collection.get(hex.slice(0, 12));
        if (image !== undefined && !docs.some((d) => d.Name === image.Name)) docs.push(image);
      }
    }
    for (const d of docs) {
      for (const a of artifactsFromAnnotations(annotationsOfDocument(d))) {
        out.push({ ...describeBundle(a.bundle, a.payload), source: 'docdb', location: `${collection.location}#${d.Name}`, shortKey: d.Name });
      }
    }
  } catch (err) {
    notes.push(`${collection.location}: not readable (${isProvenantError(err) ? err.code : errorMessage(err)})`);
  } finally {
    await collection.close().catch(() => undefined);
  }
  return out;
}
