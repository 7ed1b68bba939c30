/**
 * `inspect --gcs-bucket` / `--archivista-url` / `--docdb-url`: attestations the `gcs`, `archivista` and `docdb`
 * backends stored for a run. docdb documents are read by Chains' key (`<kind>-<uid>`, then the image
 * signatures' 12-hex keys of the provenance's image subjects); the MongoDB connection string comes from
 * `$MONGO_SERVER_URL_PATH` (a file) or `$MONGO_SERVER_URL`.
 * GCS objects hold the same bytes as the tekton annotations, so they are decoded the same way; Archivista
 * is found through the gitoid annotations the backend recorded on the run. The SDKs load only when asked.
 */
import type { SerializedEnvelope } from '@sigstore/bundle';
import type { StorageOptions } from '@google-cloud/storage';
import { errorMessage, isProvenantError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import type { RunKind } from '../../tekton/index.js';
import { artifactsFromAnnotations, bundleFromEnvelope, describeBundle, type AttestationDescription } from '../../verify/index.js';

export type RemoteAttestation = AttestationDescription & { readonly source: 'gcs' | 'archivista' | 'docdb'; readonly location: string; readonly shortKey?: string };

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
