/**
 * `grafeas` storage (`storage.grafeas.projectid`, `.noteid`, `.notehint`): notes and occurrences in a
 * Grafeas server (Container Analysis by default) through `@google-cloud/grafeas` over gRPC, as Tekton
 * Chains' `pkg/chains/storage/grafeas` writes them:
 *
 *   provenance of a TaskRun/PipelineRun → note `projects/<p>/notes/<prefix>-<taskrun|pipelinerun>-intoto` (BUILD,
 *     `build.builder_version` = `tekton.dev/v1/<Kind>`), and one BUILD occurrence per statement subject and
 *     digest, `resource_uri` = `<name>@<alg>:<hex>`, `build.intoto_statement` = the statement (SLSA v0.2 predicate
 *     mapping, as Chains), envelope = {payload: statement bytes, payload_type: in-toto, signatures: [{sig, keyid}]}
 *   image signature (simple signing) → note `…/<prefix>-simplesigning` (ATTESTATION, `hint.human_readable_name` =
 *     notehint), and one ATTESTATION occurrence, `resource_uri` = `<image>@sha256:<hex>`,
 *     `attestation.serialized_payload` + signatures, and the same envelope with the simple-signing payload type
 *
 * `<prefix>` = `storage.grafeas.noteid`, else `tekton-<run namespace>`. `sig` holds the bytes Chains' signer
 * returned, the same bytes the `tekton` backend writes (base64) in `chains.tekton.dev/signature-*`: the DSSE
 * envelope JSON for provenance, the raw signature for an image; `keyid` is `signers.kms.kmsref` (Chains #471).
 * Deliberate differences (docs/storage.md): an existing identical occurrence is not written again (Chains adds a
 * duplicate per retry); a note already created by this process is not asked for again; SLSA v1.0 statements also
 * fill `build.in_toto_slsa_provenance_v1` (Chains maps them onto an empty v0.2 predicate).
 * The SDK is imported on first use. Credentials: Application Default Credentials, as Chains.
 */
import { createHash } from 'node:crypto';
import type { GrafeasConfig } from '../config/index.js';
import { ProvenantError, type ErrorKind, type StorageErrorCode } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { formatRunKey, type RunKind } from '../tekton/run-key.js';
import { annotationsForStorage } from './tekton-storage.js';
import type { ArtifactSubject, StorageBackend, StoreRequest, StoreResult } from './types.js';

export const inTotoPayloadType = 'application/vnd.in-toto+json';
export const simpleSigningPayloadType = 'application/vnd.dev.cosign.simplesigning.v1+json';

/** Options passed through to `new GrafeasClient()` on top of those `server` gives (tests: sslCreds …). */
export type GrafeasClientOptions = Readonly<Record<string, unknown>>;

export interface GrafeasStorageDeps {
  readonly config: GrafeasConfig & { readonly projectId: string };
  /** Chains' `keyid` / `public_key_id`: `signers.kms.kmsref` (empty for other signers, as Chains). */
  readonly keyId?: string | undefined;
  readonly logger: Logger;
  readonly clientOptions?: GrafeasClientOptions;
  /** Per gRPC call deadline (default 30 s; list calls are retried by the SDK within it). */
  readonly timeoutMs?: number;
}

// ---------------------------------------------------------------- names (pure)

/** Chains' note-name prefix: `storage.grafeas.noteid`, else `tekton-<namespace>`. */
export function grafeasNotePrefix(noteId: string | undefined, namespace: string): string {
  return noteId === undefined || noteId === '' ? `tekton-${namespace}` : noteId;
}

/** The note id (last path segment) for a payload kind. */
export function grafeasNoteId(prefix: string, artifact: { type: StoreRequest['artifact']['type']; runKind: RunKind }): string {
  return artifact.type === 'image-signature' ? `${prefix}-simplesigning` : `${prefix}-${artifact.runKind.toLowerCase()}-intoto`;
}

/** `name@alg:hex` for every digest of every subject (Chains' `RetrieveAllArtifactURIs`). */
export function grafeasResourceUris(subjects: readonly ArtifactSubject[]): string[] {
  const out: string[] = [];
  for (const s of subjects) for (const [alg, hex] of Object.entries(s.digest)) out.push(`${s.name}@${alg}:${hex}`);
  return [...new Set(out)];
}

/** Chains' ListNoteOccurrences filter: `resourceUrl="a" OR resourceUrl="b"` (Go %q quoting). */
export function grafeasUriFilter(uris: readonly string[]): string {
  return uris.map((u) => `resourceUrl=${JSON.stringify(u)}`).join(' OR ');
}

// ---------------------------------------------------------------- proto shapes (pure)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type ProtoValue = Record<string, unknown>;

function toValue(v: unknown): ProtoValue {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  if (typeof v === 'object') return { structValue: toStruct(v) };
  return { stringValue: String(v) };
}

/** A JSON object as a `google.protobuf.Struct` message object; undefined for absent/non-objects. */
export function toStruct(v: unknown): { fields: Record<string, ProtoValue> } | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return { fields: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toValue(x)])) };
}

/** The inverse of `toStruct`, for reading back. */
export function fromStruct(s: unknown): Json | undefined {
  const fields = (s as { fields?: Record<string, unknown> } | null | undefined)?.fields;
  if (fields === undefined) return undefined;
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, fromValue(v)]));
}

function fromValue(v: unknown): Json {
  const x = (v ?? {}) as Record<string, unknown>;
  const kind = typeof x['kind'] === 'string' ? x['kind'] : Object.keys(x).find((k) => x[k] !== undefined && x[k] !== null);
  switch (kind) {
    case 'boolValue':
      return Boolean(x['boolValue']);
    case 'numberValue':
      return Number(x['numberValue']);
    case 'stringValue':
      return String(x['stringValue']);
    case 'listValue':
      return ((x['listValue'] as { values?: unknown[] } | undefined)?.values ?? []).map(fromValue);
    case 'structValue':
      return fromStruct(x['structValue']) ?? {};
    default:
      return null;
  }
}

/** RFC 3339 → `google.protobuf.Timestamp` (seconds as a string: int64), exact to the nanosecond. */
export function toTimestamp(v: unknown): { seconds: string; nanos: number } | undefined {
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) return undefined;
  const frac = /\.(\d+)/.exec(v.replace(/[zZ]|[+-]\d\d:\d\d$/, ''))?.[1] ?? '';
  return { seconds: String(Math.floor(ms / 1000)), nanos: Number((frac + '000000000').slice(0, 9)) };
}

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const strOf = (v: unknown): string => (typeof v === 'string' ? v : '');
const digestOf = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(obj(v)).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Chains' `grafeasutil.ToProto`: the statement read as an SLSA v0.2 provenance statement, whatever its
 * predicate type (fields a v1.0 predicate does not have stay empty, as in Chains).
 */
export function inTotoStatementProto(statement: Record<string, unknown>): Record<string, unknown> {
  const p = obj(statement['predicate']);
  const inv = obj(p['invocation']);
  const cs = obj(inv['configSource']);
  const md = p['metadata'] === undefined || p['metadata'] === null ? undefined : obj(p['metadata']);
  const completeness = obj(md?.['completeness']);
  return {
    type: strOf(statement['_type']),
    subject: arr(statement['subject']).map((s) => ({ name: strOf(obj(s)['name']), digest: digestOf(obj(s)['digest']) })),
    predicateType: strOf(statement['predicateType']),
    slsaProvenanceZeroTwo: {
      builder: { id: strOf(obj(p['builder'])['id']) },
      buildType: strOf(p['buildType']),
      invocation: {
        configSource: { uri: strOf(cs['uri']), digest: digestOf(cs['digest']), entryPoint: strOf(cs['entryPoint']) },
        parameters: toStruct(inv['parameters']),
        environment: toStruct(inv['environment']),
      },
      buildConfig: toStruct(p['buildConfig']),
      metadata:
        md === undefined
          ? undefined
          : {
              buildInvocationId: strOf(md['buildInvocationId']),
              buildStartedOn: toTimestamp(md['buildStartedOn']),
              buildFinishedOn: toTimestamp(md['buildFinishedOn']),
              completeness: { parameters: completeness['parameters'] === true, environment: completeness['environment'] === true, materials: completeness['materials'] === true },
              reproducible: md['reproducible'] === true,
            },
      materials: arr(p['materials']).map((m) => ({ uri: strOf(obj(m)['uri']), digest: digestOf(obj(m)['digest']) })),
    },
  };
}

function resourceDescriptor(v: unknown): Record<string, unknown> {
  const r = obj(v);
  const annotations = obj(r['annotations']);
  return {
    name: strOf(r['name']),
    uri: strOf(r['uri']),
    digest: digestOf(r['digest']),
    ...(typeof r['content'] === 'string' ? { content: Buffer.from(r['content'], 'base64') } : {}),
    downloadLocation: strOf(r['downloadLocation']),
    mediaType: strOf(r['mediaType']),
    annotations: Object.fromEntries(Object.entries(annotations).map(([k, x]) => [k, toValue(x)])),
  };
}

/** `build.in_toto_slsa_provenance_v1` for an SLSA v1.0 statement (provenant; Chains leaves it empty). */
export function slsaV1Proto(statement: Record<string, unknown>): Record<string, unknown> {
  const p = obj(statement['predicate']);
  const bd = obj(p['buildDefinition']);
  const rd = obj(p['runDetails']);
  const builder = obj(rd['builder']);
  const md = obj(rd['metadata']);
  return {
    type: strOf(statement['_type']),
    subject: arr(statement['subject']).map((s) => ({ name: strOf(obj(s)['name']), digest: digestOf(obj(s)['digest']) })),
    predicateType: strOf(statement['predicateType']),
    predicate: {
      buildDefinition: {
        buildType: strOf(bd['buildType']),
        externalParameters: toStruct(bd['externalParameters']),
        internalParameters: toStruct(bd['internalParameters']),
        resolvedDependencies: arr(bd['resolvedDependencies']).map(resourceDescriptor),
      },
      runDetails: {
        builder: { id: strOf(builder['id']), version: digestOf(builder['version']), builderDependencies: arr(builder['builderDependencies']).map(resourceDescriptor) },
        metadata: { invocationId: strOf(md['invocationId']), startedOn: toTimestamp(md['startedOn']), finishedOn: toTimestamp(md['finishedOn']) },
        byproducts: arr(rd['byproducts']).map(resourceDescriptor),
      },
    },
  };
}

export interface GrafeasWrite {
  readonly noteId: string;
  readonly note: Record<string, unknown>;
  readonly occurrences: ReadonlyArray<{ readonly resourceUri: string; readonly occurrence: Record<string, unknown> }>;
}

/** What one store request writes: the note (created if absent) and its occurrences (pure). */
export function grafeasWritesFor(request: StoreRequest, options: { projectId: string; noteId?: string | undefined; noteHint: string; keyId?: string | undefined }): GrafeasWrite {
  const prefix = grafeasNotePrefix(options.noteId, request.run.namespace);
  const noteId = grafeasNoteId(prefix, { type: request.artifact.type, runKind: request.run.kind });
  const noteName = `projects/${options.projectId}/notes/${noteId}`;
  const keyid = options.keyId ?? '';
  const sig = Buffer.from(annotationsForStorage(request)[`chains.tekton.dev/signature-${request.artifact.shortKey}`] ?? '', 'base64');
  const payload = Buffer.from(request.payload);
  if (request.artifact.type === 'image-signature') {
    const envelope = { payload, payloadType: simpleSigningPayloadType, signatures: [{ sig, keyid }] };
    return {
      noteId,
      note: { shortDescription: 'OCI Artifact Attestation Note', attestation: { hint: { humanReadableName: options.noteHint } } },
      occurrences: grafeasResourceUris(request.artifact.subjects.slice(0, 1)).map((resourceUri) => ({
        resourceUri,
        occurrence: { resourceUri, noteName, attestation: { serializedPayload: payload, signatures: [{ signature: sig, publicKeyId: keyid }] }, envelope },
      })),
    };
  }
  let statement: Record<string, unknown>;
  try {
    statement = obj(JSON.parse(payload.toString('utf8')));
  } catch {
    throw new ProvenantError('permanent', 'GRAFEAS_PAYLOAD_INVALID', 'grafeas storage: the provenance payload is not an in-toto statement (JSON)', {
      context: { run: formatRunKey(request.run), shortKey: request.artifact.shortKey },
    });
  }
  const build: Record<string, unknown> = { intotoStatement: inTotoStatementProto(statement) };
  if (strOf(statement['predicateType']) === 'https://slsa.dev/provenance/v1') build['inTotoSlsaProvenanceV1'] = slsaV1Proto(statement);
  const envelope = { payload, payloadType: inTotoPayloadType, signatures: [{ sig, keyid }] };
  return {
    noteId,
    note: { shortDescription: `Build Provenance Note for ${request.run.kind}`, build: { builderVersion: `tekton.dev/v1/${request.run.kind}` } },
    occurrences: grafeasResourceUris(request.artifact.subjects).map((resourceUri) => ({ resourceUri, occurrence: { resourceUri, noteName, build, envelope } })),
  };
}

// ---------------------------------------------------------------- client

interface GrafeasApi {
  createNote(req: Record<string, unknown>, opts?: Record<string, unknown>): Promise<unknown>;
  createOccurrence(req: Record<string, unknown>, opts?: Record<string, unknown>): Promise<[Record<string, unknown>, ...unknown[]]>;
  listNoteOccurrences(req: Record<string, unknown>, opts?: Record<string, unknown>): Promise<[Array<Record<string, unknown>>, ...unknown[]]>;
  close(): Promise<void>;
}

/** `new GrafeasClient()` for `storage.grafeas.server`: https = TLS + ADC, http = plaintext without credentials. */
export async function createGrafeasClient(server: string, extra: GrafeasClientOptions = {}): Promise<GrafeasApi> {
  const url = new URL(server);
  const options: Record<string, unknown> = { apiEndpoint: url.hostname, port: Number(url.port === '' ? (url.protocol === 'http:' ? 80 : 443) : url.port) };
  if (url.protocol === 'http:') {
    const grpc = await import('@grpc/grpc-js');
    // No Google credentials over plaintext; a fixed universe and inert service-account fields keep the SDK
    // from looking for Application Default Credentials or the metadata server.
    Object.assign(options, {
      sslCreds: grpc.credentials.createInsecure(),
      universeDomain: 'googleapis.com',
      credentials: { client_email: 'unused@grafeas.invalid', private_key: 'unused' },
    });
  }
  const { GrafeasClient } = await import('@google-cloud/grafeas');
  type Options = ConstructorParameters<typeof GrafeasClient>[0];
  const client = new GrafeasClient({ ...options, ...extra } as Options);
  if (options['sslCreds'] === undefined && extra['sslCreds'] === undefined) {
    // Without credentials the SDK's lazily built stub rejects once per method, and the promises of the
    // methods not being called are left unhandled (a process crash): find the credentials first.
    try {
      await client.auth.getClient();
    } catch {
      await client.close().catch(() => undefined);
      throw new ProvenantError('config', 'GRAFEAS_ACCESS_DENIED', `grafeas storage: no Google credentials for ${server}`, {
        context: { server, hint: 'provide Application Default Credentials (Workload Identity, GOOGLE_APPLICATION_CREDENTIALS), or use http:// for a Grafeas server without authentication' },
      });
    }
  }
  return client as unknown as GrafeasApi;
}

const grpcStatus = { NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, INVALID_ARGUMENT: 3, FAILED_PRECONDITION: 9, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16 } as const;

function codeOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

function classify(err: unknown): { kind: ErrorKind; code: StorageErrorCode } {
  const c = codeOf(err);
  if (c === grpcStatus.PERMISSION_DENIED || c === grpcStatus.UNAUTHENTICATED) return { kind: 'config', code: 'GRAFEAS_ACCESS_DENIED' };
  if (c === grpcStatus.NOT_FOUND) return { kind: 'config', code: 'GRAFEAS_NOT_FOUND' };
  if (c === grpcStatus.INVALID_ARGUMENT || c === grpcStatus.FAILED_PRECONDITION || c === grpcStatus.OUT_OF_RANGE || c === grpcStatus.UNIMPLEMENTED) {
    return { kind: 'permanent', code: 'GRAFEAS_REJECTED' };
  }
  // UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNKNOWN, connection errors.
  return { kind: 'transient', code: 'GRAFEAS_UNAVAILABLE' };
}

const hints: Partial<Record<StorageErrorCode, string>> = {
  GRAFEAS_ACCESS_DENIED: 'grant the controller roles/containeranalysis.notes.editor and roles/containeranalysis.occurrences.editor on the project',
  GRAFEAS_NOT_FOUND: 'check storage.grafeas.projectid (and that the Container Analysis API is enabled)',
  GRAFEAS_UNAVAILABLE: 'retried with backoff',
};

function grafeasError(err: unknown, what: string, context: Record<string, unknown>): ProvenantError {
  const c = classify(err);
  const hint = hints[c.code];
  return new ProvenantError(c.kind, c.code, `grafeas storage: ${what}`, { context: { ...context, grpcCode: codeOf(err), ...(hint === undefined ? {} : { hint }) } });
}

const sha = (b: unknown): string => createHash('sha256').update(Buffer.isBuffer(b) || b instanceof Uint8Array ? b : Buffer.from(strOf(b), 'base64')).digest('hex');

/** Identity of a stored occurrence for idempotence: resource, payload and signature bytes. */
function occurrenceKey(o: Record<string, unknown>): string {
  const env = obj(o['envelope']);
  const sig0 = obj(arr(env['signatures'])[0]);
  return `${strOf(o['resourceUri'])}\n${sha(env['payload'])}\n${sha(sig0['sig'])}`;
}

async function listNote(client: GrafeasApi, noteName: string, uris: readonly string[], timeout: number): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  // Chains sends one filter for all URIs; chunks keep a run with many subjects under filter-length limits.
  for (let i = 0; i < uris.length; i += filterChunk) {
    const chunk = uris.slice(i, i + filterChunk);
    const [occurrences] = await client.listNoteOccurrences({ name: noteName, filter: grafeasUriFilter(chunk) }, { timeout });
    // The filter is the server's to honour; a server that ignores it must not make us skip writes.
    const wanted = new Set(chunk);
    out.push(...occurrences.filter((o) => wanted.has(strOf(o['resourceUri']))));
  }
  return out;
}

const filterChunk = 50;
const writeConcurrency = 8;

/** `fn` over `items` with at most `limit` in flight; results in order; the first failure rejects. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function createGrafeasStorage(deps: GrafeasStorageDeps): StorageBackend {
  let client: Promise<GrafeasApi> | undefined;
  const timeout = deps.timeoutMs ?? 30_000;
  const project = `projects/${deps.config.projectId}`;
  /** Notes known to exist: asked for once per process (Chains asks on every store). */
  const notes = new Set<string>();
  return {
    name: 'grafeas',
    async store(request: StoreRequest): Promise<StoreResult> {
      const writes = grafeasWritesFor(request, { projectId: deps.config.projectId, noteId: deps.config.noteId, noteHint: deps.config.noteHint, keyId: deps.keyId });
      const noteName = `${project}/notes/${writes.noteId}`;
      const ctx = { run: formatRunKey(request.run), shortKey: request.artifact.shortKey, note: noteName };
      if (writes.occurrences.length === 0) {
        // Chains creates the note and no occurrence when a run built nothing; nothing to point at here.
        deps.logger.info(ctx, 'grafeas: no artifact subjects, no occurrences');
        return { backend: 'grafeas', locations: [] };
      }
      // A failed start (no credentials yet) is not remembered: the next store tries again.
      client ??= createGrafeasClient(deps.config.server, deps.clientOptions).catch((err: unknown) => {
        client = undefined;
        throw err;
      });
      const c = await client;
      if (!notes.has(noteName)) {
        try {
          await c.createNote({ parent: project, noteId: writes.noteId, note: writes.note }, { timeout });
        } catch (err) {
          if (codeOf(err) !== grpcStatus.ALREADY_EXISTS) throw grafeasError(err, `cannot create note ${noteName}`, ctx);
        }
        notes.add(noteName);
      }
      let existing: Array<Record<string, unknown>>;
      try {
        existing = await listNote(c, noteName, writes.occurrences.map((o) => o.resourceUri), timeout);
      } catch (err) {
        if (codeOf(err) === grpcStatus.NOT_FOUND) notes.delete(noteName);
        throw grafeasError(err, `cannot list the occurrences of ${noteName}`, ctx);
      }
      const byKey = new Map(existing.map((o) => [occurrenceKey(o), strOf(o['name'])]));
      const names = await mapLimited(writes.occurrences, writeConcurrency, async ({ occurrence }) => {
        const have = byKey.get(occurrenceKey(occurrence));
        if (have !== undefined) return have;
        try {
          const [created] = await c.createOccurrence({ parent: project, occurrence }, { timeout });
          return strOf(created['name']);
        } catch (err) {
          // The note was deleted behind our back: forget it, so the retry creates it again.
          if (codeOf(err) === grpcStatus.NOT_FOUND) {
            notes.delete(noteName);
            throw new ProvenantError('transient', 'GRAFEAS_UNAVAILABLE', `grafeas storage: note ${noteName} vanished`, { context: ctx });
          }
          throw grafeasError(err, `cannot create an occurrence of ${noteName}`, { ...ctx, resourceUri: occurrence['resourceUri'] });
        }
      });
      deps.logger.debug({ ...ctx, occurrences: names, reused: existing.length }, 'stored in grafeas');
      return { backend: 'grafeas', locations: names.map((n) => `grafeas:${n}`) };
    },
  };
}

// ---------------------------------------------------------------- reader

export interface GrafeasReadDeps {
  readonly projectId: string;
  /** `storage.grafeas.noteid`, else `tekton-<namespace>` of the run. */
  readonly notePrefix: string;
  /** Default `https://containeranalysis.googleapis.com`. */
  readonly server?: string;
  readonly clientOptions?: GrafeasClientOptions;
  readonly timeoutMs?: number;
}

export interface GrafeasOccurrence {
  /** Server-assigned `projects/<p>/occurrences/<id>`. */
  readonly name: string;
  readonly noteName: string;
  readonly kind: string;
  readonly resourceUri: string;
  readonly payloadType: string;
  readonly payload: Buffer;
  readonly signatures: ReadonlyArray<{ readonly sig: Buffer; readonly keyid: string }>;
  readonly createTime?: string;
}

const bytes = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(strOf(v), 'base64'));

function occurrenceOf(o: Record<string, unknown>): GrafeasOccurrence {
  const env = obj(o['envelope']);
  const ct = obj(o['createTime']);
  const seconds = Number(ct['seconds'] ?? NaN);
  return {
    name: strOf(o['name']),
    noteName: strOf(o['noteName']),
    kind: strOf(o['kind']),
    resourceUri: strOf(o['resourceUri']),
    payloadType: strOf(env['payloadType']),
    payload: bytes(env['payload']),
    signatures: arr(env['signatures']).map((s) => ({ sig: bytes(obj(s)['sig']), keyid: strOf(obj(s)['keyid']) })),
    ...(Number.isFinite(seconds) && seconds > 0 ? { createTime: new Date(seconds * 1000).toISOString() } : {}),
  };
}

/**
 * Reads back what `grafeas` stored for these resource URIs (Chains' `RetrievePayloads`/`RetrieveSignatures`:
 * ListNoteOccurrences with a `resourceUrl` filter): the BUILD occurrences under the `<prefix>-<kind>-intoto`
 * notes of `kinds` and the ATTESTATION occurrences under `<prefix>-simplesigning`. A note that does not exist
 * reads as nothing stored.
 */
export async function readGrafeas(
  deps: GrafeasReadDeps,
  resourceUris: readonly string[],
  options: { readonly kinds?: readonly RunKind[]; readonly imageSignatures?: boolean } = {},
): Promise<GrafeasOccurrence[]> {
  if (resourceUris.length === 0) return [];
  const client = await createGrafeasClient(deps.server ?? 'https://containeranalysis.googleapis.com', deps.clientOptions);
  const timeout = deps.timeoutMs ?? 30_000;
  const noteIds = [
    ...(options.kinds ?? (['TaskRun', 'PipelineRun'] as const)).map((k) => grafeasNoteId(deps.notePrefix, { type: 'provenance', runKind: k })),
    ...(options.imageSignatures === false ? [] : [grafeasNoteId(deps.notePrefix, { type: 'image-signature', runKind: 'TaskRun' })]),
  ];
  try {
    const out: GrafeasOccurrence[] = [];
    for (const id of noteIds) {
      const noteName = `projects/${deps.projectId}/notes/${id}`;
      try {
        for (const o of await listNote(client, noteName, resourceUris, timeout)) out.push(occurrenceOf(o));
      } catch (err) {
        if (codeOf(err) === grpcStatus.NOT_FOUND) continue;
        throw grafeasError(err, `cannot list the occurrences of ${noteName}`, { note: noteName });
      }
    }
    return out;
  } finally {
    await client.close().catch(() => undefined);
  }
}

