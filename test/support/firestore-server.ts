/**
 * A Firestore v1 gRPC stand-in (test-only) built from the protos shipped inside `@google-cloud/firestore`, so
 * its GAPIC client (`v1.FirestoreClient`) runs unmodified against it (plaintext, as with
 * `FIRESTORE_EMULATOR_HOST`). RPCs: Commit (update writes), BatchGetDocuments and RunQuery (one collection,
 * `limit`) as server streams. Documents are kept as the client sent them (proto `Value`s), so tests can check
 * the encoding. Failures can be injected with a gRPC status.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

type Doc = { name: string; fields: Record<string, Record<string, unknown>>; createTime: Timestamp; updateTime: Timestamp };
type Timestamp = { seconds: string; nanos: number };

export interface FirestoreTestServer {
  /** `127.0.0.1:<port>`, the FIRESTORE_EMULATOR_HOST value. */
  readonly host: string;
  /** Documents by full name (`projects/…/documents/<collection>/<id>`). */
  readonly documents: Map<string, Doc>;
  readonly calls: Array<{ method: string; request: Record<string, unknown> }>;
  failNext(status: grpc.status, count?: number): void;
  stop(): Promise<void>;
}

function now(): Timestamp {
  const ms = Date.now();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}

export async function startFirestoreServer(): Promise<FirestoreTestServer> {
  const require = createRequire(import.meta.url);
  const protos = path.resolve(path.dirname(require.resolve('@google-cloud/firestore')), '..', 'protos');
  const definition = protoLoader.loadSync('google/firestore/v1/firestore.proto', { includeDirs: [protos], keepCase: false, longs: String, enums: String, defaults: false, oneofs: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { google: { firestore: { v1: { Firestore: { service: grpc.ServiceDefinition } } } } };
  const documents = new Map<string, Doc>();
  const calls: FirestoreTestServer['calls'] = [];
  let failure: { status: grpc.status; count: number } | undefined;
  const fail = (): grpc.ServiceError | undefined => {
    if (failure === undefined || failure.count <= 0) return undefined;
    failure.count--;
    return Object.assign(new Error('injected failure'), { code: failure.status, details: 'injected failure', metadata: new grpc.Metadata() });
  };
  const unimplemented = (method: string) => (call: unknown, callback?: grpc.sendUnaryData<unknown>) => {
    const err = Object.assign(new Error(`${method} not implemented by the stand-in`), { code: grpc.status.UNIMPLEMENTED, details: `${method} not implemented`, metadata: new grpc.Metadata() });
    if (callback) callback(err, null);
    else (call as grpc.ServerWritableStream<unknown, unknown>).destroy(err);
  };
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(loaded.google.firestore.v1.Firestore.service)) implementation[method] = unimplemented(method);
  Object.assign(implementation, {
    Commit: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      calls.push({ method: 'Commit', request: call.request });
      const err = fail();
      if (err) return callback(err, null);
      const time = now();
      const results = [];
      for (const w of (call.request['writes'] as Array<Record<string, unknown>>) ?? []) {
        const update = w['update'] as { name: string; fields?: Doc['fields'] } | undefined;
        if (update === undefined) return callback(Object.assign(new Error('only update writes'), { code: grpc.status.UNIMPLEMENTED, metadata: new grpc.Metadata() }), null);
        documents.set(update.name, { name: update.name, fields: update.fields ?? {}, createTime: documents.get(update.name)?.createTime ?? time, updateTime: time });
        results.push({ updateTime: time });
      }
      callback(null, { writeResults: results, commitTime: time });
    },
    BatchGetDocuments: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      calls.push({ method: 'BatchGetDocuments', request: call.request });
      const err = fail();
      if (err) return call.destroy(err);
      for (const name of (call.request['documents'] as string[]) ?? []) {
        const doc = documents.get(name);
        call.write(doc === undefined ? { missing: name, readTime: now() } : { found: doc, readTime: now() });
      }
      call.end();
    },
    RunQuery: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      calls.push({ method: 'RunQuery', request: call.request });
      const err = fail();
      if (err) return call.destroy(err);
      const q = call.request['structuredQuery'] as { from?: Array<{ collectionId?: string }>; limit?: { value?: number } } | undefined;
      const prefix = `${String(call.request['parent'])}/${q?.from?.[0]?.collectionId ?? ''}/`;
      const limit = q?.limit?.value ?? Number.MAX_SAFE_INTEGER;
      const found = [...documents.values()].filter((d) => d.name.startsWith(prefix) && !d.name.slice(prefix.length).includes('/')).slice(0, limit);
      for (const d of found) call.write({ document: d, readTime: now() });
      if (found.length === 0) call.write({ readTime: now() });
      call.end();
    },
  });
  const server = new grpc.Server();
  server.addService(loaded.google.firestore.v1.Firestore.service, implementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    host: `127.0.0.1:${port}`,
    documents,
    calls,
    failNext: (status, count = 1) => {
      failure = { status, count };
    },
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
