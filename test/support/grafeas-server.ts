/**
 * A local Grafeas v1 gRPC server built from the protos shipped inside `@google-cloud/grafeas` and
 * `google-gax`, so `GrafeasClient` runs unmodified against it (insecure channel). Implements CreateNote
 * (ALREADY_EXISTS on a second create), GetNote, CreateOccurrence (the note must exist; the details must
 * match the note's kind; server-assigned `projects/<p>/occurrences/<uuid>` names), GetOccurrence,
 * ListOccurrences and ListNoteOccurrences with Chains' `resourceUrl="…" OR …` filter and paging (20 a page), and
 * injectable failures. Test-only.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export type GrafeasFailure = 'unavailable' | 'permission-denied' | 'not-found' | 'invalid-argument' | 'internal';

export interface GrafeasRecordedCall {
  readonly method: string;
  readonly request: Record<string, unknown>;
}

export type StoredNote = Record<string, unknown> & { readonly name: string; readonly kind: string };
export type StoredOccurrence = Record<string, unknown> & { readonly name: string; readonly noteName: string; readonly resourceUri: string; readonly kind: string };

export interface GrafeasTestServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the `storage.grafeas.server` value for this stand-in. */
  readonly url: string;
  readonly notes: Map<string, StoredNote>;
  readonly occurrences: StoredOccurrence[];
  readonly calls: GrafeasRecordedCall[];
  /** Make the next `count` calls of `method` (e.g. 'CreateOccurrence', or '*') fail. */
  failNext(method: string, failure: GrafeasFailure, count?: number): void;
  reset(): void;
  stop(): Promise<void>;
}

const statusOf: Record<GrafeasFailure, grpc.status> = {
  unavailable: grpc.status.UNAVAILABLE,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  'not-found': grpc.status.NOT_FOUND,
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  internal: grpc.status.INTERNAL,
};

function protoRoots(): { grafeas: string; gax: string } {
  const require = createRequire(import.meta.url);
  const grafeasMain = require.resolve('@google-cloud/grafeas');
  const gaxMain = createRequire(grafeasMain).resolve('google-gax');
  return {
    grafeas: path.resolve(path.dirname(grafeasMain), '..', 'protos'),
    gax: path.resolve(path.dirname(gaxMain), '..', 'protos'),
  };
}

/** Parses `resourceUrl="a" OR resourceUrl="b"` (JSON/Go %q string quoting); undefined = not understood. */
export function parseUriFilter(filter: string): string[] | undefined {
  if (filter.trim() === '') return [];
  const out: string[] = [];
  for (const part of filter.split(/\s+OR\s+/)) {
    const m = /^\s*resourceUrl\s*=\s*("(?:[^"\\]|\\.)*")\s*$/.exec(part);
    if (!m?.[1]) return undefined;
    out.push(JSON.parse(m[1]) as string);
  }
  return out;
}

type Callback = grpc.sendUnaryData<Record<string, unknown>>;
type Call = grpc.ServerUnaryCall<Record<string, unknown>, Record<string, unknown>>;

const noteKinds: Record<string, string> = { attestation: 'ATTESTATION', build: 'BUILD', vulnerability: 'VULNERABILITY', package: 'PACKAGE', deployment: 'DEPLOYMENT', image: 'IMAGE', discovery: 'DISCOVERY' };

export async function startGrafeasServer(): Promise<GrafeasTestServer> {
  const roots = protoRoots();
  const definition = protoLoader.loadSync('grafeas/v1/grafeas.proto', {
    includeDirs: [roots.grafeas, roots.gax],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { grafeas: { v1: { Grafeas: { service: grpc.ServiceDefinition } } } };
  const service = loaded.grafeas.v1.Grafeas.service;

  const notes = new Map<string, StoredNote>();
  const occurrences: StoredOccurrence[] = [];
  const calls: GrafeasRecordedCall[] = [];
  let pending: { method: string; failure: GrafeasFailure; count: number }[] = [];
  const take = (method: string): GrafeasFailure | undefined => {
    const p = pending.find((x) => x.method === method || x.method === '*');
    if (!p) return undefined;
    p.count -= 1;
    if (p.count <= 0) pending = pending.filter((x) => x !== p);
    return p.failure;
  };
  const reject = (cb: Callback, code: grpc.status, details: string): void => cb({ code, details, metadata: new grpc.Metadata() }, null);
  const now = (): Record<string, unknown> => {
    const ms = Date.now();
    return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
  };

  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(service)) {
    handlers[method] = (_call: Call, cb: Callback) => reject(cb, grpc.status.UNIMPLEMENTED, `${method} is not implemented by the test server`);
  }
  /** Records the call; true when an injected failure was answered. */
  const intercept = (method: string, call: Call, cb: Callback): boolean => {
    calls.push({ method, request: call.request });
    const failure = take(method);
    if (failure === undefined) return false;
    reject(cb, statusOf[failure], `injected ${failure}`);
    return true;
  };
  const projectOf = (parent: unknown): string | undefined => (typeof parent === 'string' && /^projects\/[^/]+$/.test(parent) ? parent : undefined);

  handlers['CreateNote'] = (call: Call, cb: Callback) => {
    if (intercept('CreateNote', call, cb)) return;
    const { parent, noteId, note } = call.request as { parent?: string; noteId?: string; note?: Record<string, unknown> };
    const project = projectOf(parent);
    if (project === undefined) return reject(cb, grpc.status.INVALID_ARGUMENT, 'parent must be projects/<id>');
    if (!noteId || /[\s/]/.test(noteId)) return reject(cb, grpc.status.INVALID_ARGUMENT, 'invalid note_id');
    const kindField = note?.['type'];
    const kind = typeof kindField === 'string' ? noteKinds[kindField] : undefined;
    if (note === undefined || kind === undefined) return reject(cb, grpc.status.INVALID_ARGUMENT, 'the note needs a kind-specific field');
    const name = `${project}/notes/${noteId}`;
    if (notes.has(name)) return reject(cb, grpc.status.ALREADY_EXISTS, `note ${name} already exists`);
    const stored: StoredNote = { ...note, name, kind, createTime: now() };
    notes.set(name, stored);
    cb(null, stored);
  };

  handlers['GetNote'] = (call: Call, cb: Callback) => {
    if (intercept('GetNote', call, cb)) return;
    const n = notes.get(String(call.request['name']));
    if (n === undefined) return reject(cb, grpc.status.NOT_FOUND, 'note not found');
    cb(null, n);
  };

  handlers['CreateOccurrence'] = (call: Call, cb: Callback) => {
    if (intercept('CreateOccurrence', call, cb)) return;
    const { parent, occurrence } = call.request as { parent?: string; occurrence?: Record<string, unknown> };
    const project = projectOf(parent);
    if (project === undefined || occurrence === undefined) return reject(cb, grpc.status.INVALID_ARGUMENT, 'parent and occurrence are required');
    const note = notes.get(String(occurrence['noteName']));
    if (note === undefined) return reject(cb, grpc.status.NOT_FOUND, 'note not found');
    if (typeof occurrence['resourceUri'] !== 'string' || occurrence['resourceUri'] === '') return reject(cb, grpc.status.INVALID_ARGUMENT, 'resource_uri is required');
    const detailsField = occurrence['details'];
    if (typeof detailsField !== 'string' || noteKinds[detailsField] !== note.kind) {
      return reject(cb, grpc.status.INVALID_ARGUMENT, `occurrence details (${String(detailsField)}) do not match the note kind ${note.kind}`);
    }
    const stored = { ...occurrence, name: `${project}/occurrences/${randomUUID()}`, kind: note.kind, createTime: now() } as unknown as StoredOccurrence;
    occurrences.push(stored);
    cb(null, stored);
  };

  handlers['GetOccurrence'] = (call: Call, cb: Callback) => {
    if (intercept('GetOccurrence', call, cb)) return;
    const o = occurrences.find((x) => x.name === call.request['name']);
    if (o === undefined) return reject(cb, grpc.status.NOT_FOUND, 'occurrence not found');
    cb(null, o);
  };

  const page = (list: StoredOccurrence[], request: Record<string, unknown>, cb: Callback): void => {
    const uris = parseUriFilter(String(request['filter'] ?? ''));
    if (uris === undefined) return reject(cb, grpc.status.INVALID_ARGUMENT, 'unsupported filter');
    const matching = uris.length === 0 ? list : list.filter((o) => uris.includes(o.resourceUri));
    const size = Number(request['pageSize'] ?? 0) > 0 ? Number(request['pageSize']) : 20;
    const start = Number(request['pageToken'] === undefined || request['pageToken'] === '' ? 0 : request['pageToken']);
    const slice = matching.slice(start, start + size);
    cb(null, { occurrences: slice, nextPageToken: start + size < matching.length ? String(start + size) : '' });
  };

  handlers['ListNoteOccurrences'] = (call: Call, cb: Callback) => {
    if (intercept('ListNoteOccurrences', call, cb)) return;
    const name = String(call.request['name']);
    if (!notes.has(name)) return reject(cb, grpc.status.NOT_FOUND, 'note not found');
    page(occurrences.filter((o) => o.noteName === name), call.request, cb);
  };

  handlers['ListOccurrences'] = (call: Call, cb: Callback) => {
    if (intercept('ListOccurrences', call, cb)) return;
    const project = projectOf(call.request['parent']);
    if (project === undefined) return reject(cb, grpc.status.INVALID_ARGUMENT, 'parent must be projects/<id>');
    page(occurrences.filter((o) => o.name.startsWith(`${project}/`)), call.request, cb);
  };

  const server = new grpc.Server();
  server.addService(service, handlers);
  const port = await new Promise<number>((resolve, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : resolve(p))));

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    notes,
    occurrences,
    calls,
    failNext(method, failure, count = 1) {
      pending.push({ method, failure, count });
    },
    reset() {
      pending = [];
      calls.length = 0;
      notes.clear();
      occurrences.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}
