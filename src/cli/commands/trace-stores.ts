/**
 * `trace` evidence from the stores provenant's storage backends write (besides the registry, Rekor and an
 * offline directory): one entry per store in `traceStores`, naming its flag and how to open a reader that
 * answers "what is stored about this image digest". Every attestation found is verified by the trace like
 * the registry's, and its verdict names the store as its source (`[gcs]`, `[archivista]`, `[docdb]`).
 *
 * Adding a store is one entry here (its name must be in `storeEvidenceSources`, verify/trace-signature.ts);
 * its flags are declared on `trace` and `export` from this table. Each reader's SDK loads only when its flag
 * is given.
 *
 * How each store finds what is about an image:
 * - gcs: lists the bucket's `*.payload` objects once (bounded), indexes them by the statement's subject
 *   digests and the simple-signing payload's image digest, then reads the matching artifacts' objects.
 * - archivista: asks its GraphQL API for the envelopes with that subject digest, downloads each.
 * - grafeas: lists the occurrences of the notes `<N>-taskrun-intoto`, `<N>-pipelinerun-intoto` and
 *   `<N>-simplesigning` whose resource URI is `<image>@sha256:<hex>` (Chains' `RetrievePayloads` filter).
 * - docdb: queries the collection (MongoDB: `Object.subject.digest.sha256` / the signed image digest;
 *   DynamoDB and Firestore: a bounded scan).
 */
import type { SerializedBundle, SerializedEnvelope } from '@sigstore/bundle';
import { ProvenantError, errorMessage, isProvenantError } from '../../errors.js';
import type { Logger } from '../../observability/index.js';
import type { ImageDigestRef, StoredAttestations } from '../../storage/oci/index.js';
import { artifactsFromAnnotations, bundleFromEnvelope, type EvidenceProvider, type StoreEvidenceSource } from '../../verify/index.js';
import type { CliIo } from '../io.js';

export interface TraceStoreDeps {
  readonly io: CliIo;
  readonly logger: Logger;
  /** Every parsed flag, for a store's `extraArgs`. */
  readonly values: Readonly<Record<string, unknown>>;
}

export interface TraceStoreReader {
  /** The `trace`/`export` flag (without `--`) whose value names the store. */
  readonly flag: string;
  readonly help: string;
  /** More flags the store reads (string-valued), with their help lines. */
  readonly extraArgs?: Readonly<Record<string, string>>;
  open(value: string, deps: TraceStoreDeps): Promise<EvidenceProvider>;
}

function empty(): { bundles: SerializedBundle[]; envelopes: StoredAttestations['envelopes'][number][]; signatures: StoredAttestations['signatures'][number][] } {
  return { bundles: [], envelopes: [], signatures: [] };
}

/** Evidence from tekton-style annotations (gcs objects and docdb documents hold the same four values). */
function fromAnnotations(annotations: Readonly<Record<string, string>>, into: ReturnType<typeof empty>): void {
  for (const a of artifactsFromAnnotations(annotations)) {
    if (a.type === 'provenance') into.bundles.push(a.bundle);
    else if (a.bundle.messageSignature !== undefined) into.signatures.push({ payload: a.payload, signature: a.bundle.messageSignature.signature, annotations: {}, bundle: a.bundle });
  }
}

/** `sha256:<hex>` digests a signed payload is about (statement subjects, or the simple-signed image). */
export function payloadDigests(payload: Uint8Array): string[] {
  try {
    const o = JSON.parse(Buffer.from(payload).toString('utf8')) as { subject?: Array<{ digest?: { sha256?: unknown } }>; critical?: { image?: Record<string, unknown> } };
    const out = (Array.isArray(o.subject) ? o.subject : []).flatMap((s) => (typeof s?.digest?.sha256 === 'string' ? [`sha256:${s.digest.sha256.toLowerCase()}`] : []));
    const image = o.critical?.image?.['docker-manifest-digest'];
    if (typeof image === 'string') out.push(image.toLowerCase());
    return out;
  } catch {
    return [];
  }
}

/** A store that cannot be read is an unreachable source, reported once, not a crash of the trace. */
function unreadable(source: StoreEvidenceSource, err: unknown): ProvenantError {
  if (isProvenantError(err)) return err;
  return new ProvenantError('transient', 'TRACE_STORE_UNREADABLE', `${source}: ${errorMessage(err)}`);
}

async function gcsEvidence(bucket: string, deps: TraceStoreDeps): Promise<EvidenceProvider> {
  const { listGcsArtifacts, readGcsPrefix } = await import('../../storage/gcs-storage.js');
  const endpoint = deps.io.env['STORAGE_EMULATOR_HOST'];
  const gcs = { bucket, logger: deps.logger, ...(endpoint === undefined ? {} : { gcsOptions: { apiEndpoint: endpoint, projectId: deps.io.env['GOOGLE_CLOUD_PROJECT'] ?? 'provenant' } }) };
  let index: Promise<Map<string, string[]>> | undefined;
  const build = async (): Promise<Map<string, string[]>> => {
    const byDigest = new Map<string, string[]>();
    for (const prefix of await listGcsArtifacts(gcs)) {
      const entry = await readGcsPrefix(gcs, prefix);
      if (entry === undefined) continue;
      for (const d of payloadDigests(entry.payload)) byDigest.set(d, [...(byDigest.get(d) ?? []), prefix]);
    }
    return byDigest;
  };
  return {
    source: 'gcs',
    async read(_ref: string, image: ImageDigestRef): Promise<StoredAttestations> {
      const out = empty();
      try {
        index ??= build();
        for (const prefix of (await index).get(image.digest) ?? []) {
          const entry = await readGcsPrefix(gcs, prefix);
          if (entry === undefined) continue;
          const shortKey = prefix.slice(prefix.lastIndexOf('/') + 1);
          const b64 = (v: Buffer | undefined): string => (v ?? Buffer.alloc(0)).toString('base64');
          fromAnnotations(
            {
              [`chains.tekton.dev/payload-${shortKey}`]: b64(entry.payload),
              [`chains.tekton.dev/signature-${shortKey}`]: b64(entry.signature),
              [`chains.tekton.dev/cert-${shortKey}`]: b64(entry.cert),
              [`chains.tekton.dev/chain-${shortKey}`]: b64(entry.chain),
            },
            out,
          );
        }
      } catch (err) {
        index = undefined;
        throw unreadable('gcs', err);
      }
      return out;
    },
  };
}

async function archivistaEvidence(url: string): Promise<EvidenceProvider> {
  const { readArchivista, searchArchivista } = await import('../../storage/archivista-storage.js');
  return {
    source: 'archivista',
    async read(_ref: string, image: ImageDigestRef): Promise<StoredAttestations> {
      const out = empty();
      try {
        for (const gitoid of await searchArchivista({ url }, [image.digest.replace(/^sha256:/, '')])) {
          const envelope = await readArchivista({ url }, gitoid);
          if (envelope !== undefined) out.bundles.push(bundleFromEnvelope(JSON.parse(envelope.toString('utf8')) as SerializedEnvelope));
        }
      } catch (err) {
        throw unreadable('archivista', err);
      }
      return out;
    },
  };
}

async function grafeasEvidence(project: string, deps: TraceStoreDeps): Promise<EvidenceProvider> {
  const notePrefix = deps.values['grafeas-note'];
  if (typeof notePrefix !== 'string' || notePrefix === '') {
    throw new ProvenantError('input', 'USAGE', '--grafeas-project needs --grafeas-note (storage.grafeas.noteid, or tekton-<namespace of the runs>)');
  }
  const server = deps.values['grafeas-server'];
  const { readGrafeas, grafeasResourceUris } = await import('../../storage/grafeas-storage.js');
  const { grafeasOccurrenceBundle } = await import('./inspect-remote.js');
  return {
    source: 'grafeas',
    async read(_ref: string, image: ImageDigestRef): Promise<StoredAttestations> {
      const out = empty();
      const uris = grafeasResourceUris([{ name: `${image.registry}/${image.repository}`, digest: { sha256: image.digest.replace(/^sha256:/, '') } }]);
      try {
        for (const o of await readGrafeas({ projectId: project, notePrefix, ...(typeof server === 'string' && server !== '' ? { server } : {}) }, uris)) {
          const b = grafeasOccurrenceBundle(o);
          if (b.type === 'provenance') out.bundles.push(b.bundle);
          else if (b.bundle.messageSignature !== undefined) out.signatures.push({ payload: b.payload, signature: b.bundle.messageSignature.signature, annotations: {}, bundle: b.bundle });
        }
      } catch (err) {
        throw unreadable('grafeas', err);
      }
      return out;
    },
  };
}

async function docdbEvidence(url: string, deps: TraceStoreDeps): Promise<EvidenceProvider> {
  const { parseDocdbUrl } = await import('../../config/index.js');
  const parsed = parseDocdbUrl(url);
  if (!parsed.ok) throw new ProvenantError('input', 'USAGE', `--docdb-url: ${parsed.problem}`);
  const { annotationsOfDocument, openDocdbCollection } = await import('../../storage/docdb-storage.js');
  const collection = openDocdbCollection({ config: docdbReaderConfig(url, deps.io.env), logger: deps.logger, env: deps.io.env });
  return {
    source: 'docdb',
    async read(_ref: string, image: ImageDigestRef): Promise<StoredAttestations> {
      const out = empty();
      try {
        for (const doc of await collection.about(image.digest)) fromAnnotations(annotationsOfDocument(doc), out);
      } catch (err) {
        throw unreadable('docdb', err);
      }
      return out;
    },
    close: () => collection.close(),
  };
}

/**
 * The docdb settings a CLI reader uses: the URL from the flag; the MongoDB connection string from
 * `MONGO_SERVER_URL_PATH` (a file, like `storage.docdb.mongo-server-url-path`) or `MONGO_SERVER_URL`.
 */
export function docdbReaderConfig(url: string, env: Readonly<Record<string, string | undefined>>): { url: string; mongoServerUrl: undefined; mongoServerUrlDir: undefined; mongoServerUrlPath: string | undefined } {
  return { url, mongoServerUrl: undefined, mongoServerUrlDir: undefined, mongoServerUrlPath: env['MONGO_SERVER_URL_PATH'] === '' ? undefined : env['MONGO_SERVER_URL_PATH'] };
}

export const traceStores = {
  gcs: {
    flag: 'gcs-bucket',
    help: 'also read attestations the gcs backend stored in BUCKET (Application Default Credentials)',
    open: (bucket, deps) => gcsEvidence(bucket, deps),
  },
  archivista: {
    flag: 'archivista-url',
    help: 'also search Archivista at URL for attestations by subject digest',
    open: (url) => archivistaEvidence(url),
  },
  docdb: {
    flag: 'docdb-url',
    help: 'also query the docdb collection at URL (mongo://, dynamodb://, firestore://; $MONGO_SERVER_URL[_PATH])',
    open: (url, deps) => docdbEvidence(url, deps),
  },
  grafeas: {
    flag: 'grafeas-project',
    help: 'also read the Grafeas occurrences of project P (its notes named by --grafeas-note)',
    extraArgs: { 'grafeas-note': 'note-name prefix N (storage.grafeas.noteid; Chains default tekton-<namespace>)', 'grafeas-server': 'storage.grafeas.server (default https://containeranalysis.googleapis.com, ADC)' },
    open: (project, deps) => grafeasEvidence(project, deps),
  },
} as const satisfies Partial<Record<StoreEvidenceSource, TraceStoreReader>>;

type Store = (typeof traceStores)[keyof typeof traceStores];
type StoreFlag = Store['flag'] | keyof NonNullable<Extract<Store, { extraArgs: object }>['extraArgs']>;

/** The store flags, for `parseCommandArgs`. */
export const traceStoreArgs = Object.fromEntries(
  (Object.values(traceStores) as TraceStoreReader[]).flatMap((s) => [s.flag, ...Object.keys(s.extraArgs ?? {})].map((f) => [f, { type: 'string' }])),
) as Record<StoreFlag, { readonly type: 'string' }>;

/** Help lines for the store flags. */
export function traceStoreHelp(): string {
  const line = (flag: string, help: string): string => `  --${flag} ${flag.endsWith('url') || flag.endsWith('server') ? 'URL' : 'NAME'}`.padEnd(35) + help;
  return (Object.values(traceStores) as TraceStoreReader[])
    .flatMap((s) => [line(s.flag, s.help), ...Object.entries(s.extraArgs ?? {}).map(([f, h]) => line(f, h))])
    .join('\n');
}

/** Opens a reader for every store flag given. */
export async function openTraceStores(values: Readonly<Record<string, unknown>>, deps: { readonly io: CliIo; readonly logger: Logger }): Promise<EvidenceProvider[]> {
  const out: EvidenceProvider[] = [];
  for (const store of Object.values(traceStores) as TraceStoreReader[]) {
    const value = values[store.flag];
    if (typeof value === 'string' && value !== '') out.push(await store.open(value, { ...deps, values }));
  }
  return out;
}
