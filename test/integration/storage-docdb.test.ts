// `docdb` storage with the real client libraries (`mongodb`, `@aws-sdk/client-dynamodb`) against wire-protocol
// stand-ins: what lands in the collection is Chains' SignedDocument as gocloud.dev/docstore encodes it; the
// engine keeps its signature when the store is down; inspect reads it back.
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, type Signer } from '@sigstore/sign';
import { BSON } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { isProvenantError } from '../../src/errors.js';
import { createCapturingLogger, createSilentLogger } from '../../src/observability/index.js';
import { createMemoryCheckpoints, processArtifacts, StepError, type PlannedArtifact } from '../../src/reconcile/index.js';
import { annotationsOfDocument, createDocdbStorage, openDocdbCollection } from '../../src/storage/docdb-storage.js';
import { createStorageBackends } from '../../src/storage/registry.js';
import { annotationsForStorage } from '../../src/storage/tekton-storage.js';
import type { StoreRequest } from '../../src/storage/types.js';
import type { RunKey } from '../../src/tekton/run-key.js';
import { verifyBundle } from '../../src/verify/index.js';
import { artifactsFromAnnotations } from '../../src/verify/inspect-attestation.js';
import { runCaptured } from '../support/cli.js';
import { imageTaskRun } from '../support/task-run.js';
import { startDynamoServer, type DynamoTestServer } from '../support/dynamodb-server.js';
import { startFirestoreServer, type FirestoreTestServer } from '../support/firestore-server.js';
import { startMongoServer, type MongoTestServer } from '../support/mongo-server.js';

const PASSWORD = 'mongo-pw-do-not-log-7f3a';
const uid = '5e1d0c2b-aaaa-bbbb-cccc-0123456789ab';
const digest = 'c'.repeat(64);
const run: RunKey = { kind: 'TaskRun', namespace: 'ci', name: 'build', uid };
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const signer: Signer = { sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: publicKeyPem, hint: 'k' } }) };

let mongo: MongoTestServer;
let dynamo: DynamoTestServer;
let firestore: FirestoreTestServer;
let dir: string;
let provenance: StoreRequest;
let imageSig: StoreRequest;
const file = (name: string): string => path.join(dir, name);
const mongoUrl = (): string => `mongodb://chains:${PASSWORD}@127.0.0.1:${mongo.port}/?serverSelectionTimeoutMS=3000`;

const taskRun = imageTaskRun({ image: 'registry.invalid/app', digest: `sha256:${digest}`, uid });

beforeAll(async () => {
  [mongo, dynamo, firestore] = await Promise.all([startMongoServer({ users: { chains: PASSWORD } }), startDynamoServer(), startFirestoreServer()]);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-docdb-'));
  await writeFile(file('mongo-url'), `${mongoUrl()}\n`);
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [{ name: 'registry.invalid/app', digest: { sha256: digest } }], predicate: { n: 3, f: 0.5, e: '' } }));
  const dsse: SerializedBundle = bundleToJSON(await new DSSEBundleBuilder({ signer, witnesses: [] }).create({ data: statement, type: 'application/vnd.in-toto+json' }));
  provenance = { run, artifact: { type: 'provenance', shortKey: `taskrun-${uid}`, subjects: [] }, payload: statement, bundle: dsse };
  const simple = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'registry.invalid/app' }, image: { 'docker-manifest-digest': `sha256:${digest}` }, type: 'cosign container image signature' }, optional: null }));
  const msg: SerializedBundle = bundleToJSON(await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data: simple }));
  imageSig = { run, artifact: { type: 'image-signature', shortKey: digest.slice(0, 12), subjects: [] }, payload: simple, bundle: msg };
});

afterAll(async () => {
  await Promise.all([mongo?.stop(), dynamo?.stop(), firestore?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function docdbConfig(url: string, extra: Record<string, string> = {}): ReturnType<typeof parseConfig>['config'] {
  return parseConfig({ 'artifacts.taskrun.storage': 'docdb', 'storage.docdb.url': url, ...extra }).config;
}

describe('provenant sign --storage tekton,docdb (mongo://, MongoDB driver against an OP_MSG stand-in)', () => {
  it("stores Chains' SignedDocument per artifact, keyed by Name, with the tekton annotation values; the password never shows", async () => {
    await writeFile(file('x509.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    await writeFile(file('run.json'), JSON.stringify(taskRun));
    await writeFile(
      file('config.json'),
      JSON.stringify({
        'artifacts.taskrun.storage': 'tekton,docdb',
        'artifacts.oci.storage': 'oci,tekton,docdb',
        'storage.docdb.url': 'mongo://chains/signatures?id_field=Name',
        'storage.docdb.mongo-server-url-path': file('mongo-url'),
      }),
    );
    const argv = ['sign', '--config', file('config.json'), '--signing-secrets', dir, '--storage', 'tekton,docdb', '--run-out', file('signed.json'), file('run.json')];
    const r = await runCaptured(argv, { env: { HOME: '/nonexistent', PROVENANT_LOG_LEVEL: 'debug' }, cwd: dir });
    expect(r.code, r.err).toBe(0);
    expect(r.err + r.out).not.toContain(PASSWORD);
    expect(r.err).toContain(`stored provenance taskrun-${uid} in docdb: mongo://chains/signatures#taskrun-${uid}`);

    const docs = mongo.collection('chains.signatures');
    expect([...docs.keys()].sort()).toEqual([digest.slice(0, 12), `taskrun-${uid}`].sort());
    const annotations = (JSON.parse(await readFile(file('signed.json'), 'utf8')) as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
    for (const [key, doc] of docs) {
      // mongodocstore with id_field=Name: the key moves to _id and Name is dropped; no revision field.
      expect(Object.keys(doc).sort()).toEqual(['Cert', 'Chain', 'Object', 'Signature', 'Signed', '_id']);
      expect(doc['_id']).toBe(key);
      const signed = doc['Signed'] as BSON.Binary;
      expect(signed._bsontype).toBe('Binary');
      expect(signed.sub_type).toBe(0);
      expect(Buffer.from(signed.buffer).toString('base64')).toBe(annotations[`chains.tekton.dev/payload-${key}`]);
      expect(doc['Signature']).toBe(annotations[`chains.tekton.dev/signature-${key}`]);
      expect([doc['Cert'], doc['Chain']]).toEqual(['', '']);
      expect(BSON.EJSON.serialize(doc['Object'])).toEqual(BSON.EJSON.serialize(BSON.deserialize(BSON.serialize({ o: JSON.parse(Buffer.from(signed.buffer).toString('utf8')) as unknown }), { promoteValues: false })['o']));
    }
    // The stored documents verify with the signing key, read back the way Chains' RetrieveSignatures/Payloads do.
    const collection = openDocdbCollection({ config: docdbConfig('mongo://chains/signatures?id_field=Name', { 'storage.docdb.mongo-server-url': mongoUrl() }).storage.docdb, logger: createSilentLogger() });
    const artifacts = [];
    for (const key of docs.keys()) artifacts.push(...artifactsFromAnnotations(annotationsOfDocument((await collection.get(key))!)));
    expect(artifacts.map((a) => a.type).sort()).toEqual(['image-signature', 'provenance']);
    for (const a of artifacts) verifyBundle(a.bundle, { key: publicKeyPem }, a.type === 'image-signature' ? { artifact: a.payload } : {});
    expect((await collection.about(`sha256:${digest}`)).map((d) => d.Name).sort()).toEqual([digest.slice(0, 12), `taskrun-${uid}`].sort());
    await collection.close();

    // Signing the run again replaces the two documents (Put = replace by key): still two.
    expect((await runCaptured(argv, { env: { HOME: '/nonexistent' }, cwd: dir })).code).toBe(0);
    expect(mongo.collection('chains.signatures').size).toBe(2);
  });

  it('storing the same request twice writes the same document (idempotent); id_field=name keeps Name, numbers are doubles', async () => {
    const { logger } = createCapturingLogger();
    const config = docdbConfig('mongo://chains/lower?id_field=name', { 'storage.docdb.mongo-server-url': mongoUrl() });
    const [backend] = createStorageBackends(['docdb'], { config, logger });
    await backend!.store(provenance);
    const first = BSON.serialize(mongo.collection('chains.lower').get(provenance.artifact.shortKey)!);
    await backend!.store(provenance);
    await backend!.close?.();
    const docs = mongo.collection('chains.lower');
    expect(docs.size).toBe(1);
    expect(Buffer.from(BSON.serialize(docs.get(provenance.artifact.shortKey)!)).equals(Buffer.from(first))).toBe(true);
    const doc = docs.get(provenance.artifact.shortKey)!;
    // go-cloud deletes the key field by its URL spelling ("name"), so the struct's Name stays.
    expect(doc['Name']).toBe(provenance.artifact.shortKey);
    const predicate = (doc['Object'] as { predicate: Record<string, { _bsontype?: string }> }).predicate;
    expect([predicate['n']?._bsontype, predicate['f']?._bsontype]).toEqual(['Double', 'Double']);
    expect(predicate['e']).toBe('');
  });

  it('MongoDB down: typed retryable error, the signature is kept; the rotated connection string is picked up on retry', async () => {
    const urlFile = file('rotating-url');
    await writeFile(urlFile, 'mongodb://chains:x@127.0.0.1:9/?serverSelectionTimeoutMS=300\n');
    const config = docdbConfig('mongo://chains/engine?id_field=Name', { 'storage.docdb.mongo-server-url-path': urlFile });
    const { logger, lines } = createCapturingLogger();
    const [backend] = createStorageBackends(['docdb'], { config, logger });
    let signs = 0;
    const plan: PlannedArtifact[] = [
      { type: 'provenance', shortKey: `taskrun-${uid}`, checkpointKey: 'provenance', section: 'taskrun', signer: 'x509', storage: ['docdb'], payload: provenance.payload, subjects: [] },
    ];
    const deps = {
      run,
      signer: (): Signer => ({ sign: (d: Buffer) => ((signs += 1), signer.sign(d)) }),
      witnesses: [],
      storage: () => backend!,
      checkpoints: createMemoryCheckpoints(),
      logger,
    };
    const err = await processArtifacts(plan, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    const inner = (err as StepError).inner;
    expect(isProvenantError(inner) ? [inner.kind, inner.code] : inner).toEqual(['transient', 'DOCDB_UNAVAILABLE']);
    expect(Object.keys(deps.checkpoints.current().bundles ?? {})).toEqual(['provenance']);

    await writeFile(urlFile, `${mongoUrl()}\n`); // the Secret is rotated
    await processArtifacts(plan, deps);
    await backend!.close?.();
    expect(signs).toBe(1);
    expect([...mongo.collection('chains.engine').keys()]).toEqual([`taskrun-${uid}`]);
    expect(JSON.stringify(lines)).not.toContain(PASSWORD);
  });

  it('wrong password: config error DOCDB_ACCESS_DENIED; no connection string: DOCDB_CONNECTION_MISSING', async () => {
    const bad = docdbConfig('mongo://chains/x?id_field=Name', { 'storage.docdb.mongo-server-url': `mongodb://chains:wrong@127.0.0.1:${mongo.port}/?serverSelectionTimeoutMS=2000` });
    const backend = createDocdbStorage({ config: bad.storage.docdb, logger: createSilentLogger() });
    const e1 = await backend.store(provenance).catch((e: unknown) => e);
    await backend.close();
    expect(isProvenantError(e1) ? [e1.kind, e1.code] : e1).toEqual(['config', 'DOCDB_ACCESS_DENIED']);
    const none = createDocdbStorage({ config: docdbConfig('mongo://chains/x?id_field=Name').storage.docdb, logger: createSilentLogger(), env: {} });
    const e2 = await none.store(provenance).catch((e: unknown) => e);
    expect(isProvenantError(e2) ? [e2.kind, e2.code] : e2).toEqual(['config', 'DOCDB_CONNECTION_MISSING']);
  });
});

describe('dynamodb:// with @aws-sdk/client-dynamodb against a JSON 1.0 stand-in', () => {
  const env = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLEDOCDB', AWS_SECRET_ACCESS_KEY: 'secret-do-not-log-9c1e' };
  const url = (table: string): string => `dynamodb://${table}?partition_key=Name&region=us-east-1&endpoint=${encodeURIComponent(dynamo.url)}`;

  it("writes awsdynamodb's item (Name S, Signed B, empty strings NULL, Object M), idempotently, and reads it back", async () => {
    dynamo.createTable('chains-signatures', 'Name');
    const backend = createDocdbStorage({ config: docdbConfig(url('chains-signatures')).storage.docdb, logger: createSilentLogger(), env });
    await backend.store(provenance);
    await backend.store(provenance);
    await backend.store(imageSig);
    expect(dynamo.requests.map((r) => r.target.split('.')[1])).toEqual(['DescribeTable', 'PutItem', 'PutItem', 'PutItem']);
    expect(dynamo.requests.every((r) => r.signed)).toBe(true);
    const item = dynamo.items('chains-signatures').get(provenance.artifact.shortKey)!;
    expect(Object.keys(item).sort()).toEqual(['Cert', 'Chain', 'Name', 'Object', 'Signature', 'Signed']);
    expect(item['Name']).toEqual({ S: provenance.artifact.shortKey });
    expect(item['Signed']).toEqual({ B: Buffer.from(provenance.payload).toString('base64') });
    expect(item['Signature']).toEqual({ S: annotationsForStorage(provenance)[`chains.tekton.dev/signature-${provenance.artifact.shortKey}`] });
    expect([item['Cert'], item['Chain']]).toEqual([{ NULL: true }, { NULL: true }]);
    expect((item['Object'] as { M: { predicate: { M: Record<string, unknown> } } }).M.predicate.M).toEqual({ n: { N: '3' }, f: { N: '0.5' }, e: { NULL: true } });
    expect(dynamo.items('chains-signatures').size).toBe(2);

    const collection = openDocdbCollection({ config: docdbConfig(url('chains-signatures')).storage.docdb, logger: createSilentLogger(), env });
    const doc = await collection.get(provenance.artifact.shortKey);
    expect(doc?.Signed.equals(Buffer.from(provenance.payload))).toBe(true);
    expect((await collection.about(`sha256:${digest}`)).map((d) => d.Name).sort()).toEqual([digest.slice(0, 12), provenance.artifact.shortKey].sort());
    await collection.close();
  });

  it('missing table: config DOCDB_COLLECTION_NOT_FOUND; 500: transient DOCDB_UNAVAILABLE; no secret in the error', async () => {
    const missing = createDocdbStorage({ config: docdbConfig(url('no-such-table')).storage.docdb, logger: createSilentLogger(), env });
    const e1 = await missing.store(provenance).catch((e: unknown) => e);
    expect(isProvenantError(e1) ? [e1.kind, e1.code] : e1).toEqual(['config', 'DOCDB_COLLECTION_NOT_FOUND']);
    dynamo.createTable('flaky', 'Name');
    const flaky = createDocdbStorage({ config: docdbConfig(`${url('flaky')}`).storage.docdb, logger: createSilentLogger(), env, dynamoOptions: { maxAttempts: 1 } });
    dynamo.failNext('InternalServerError', 500, 1);
    const e2 = await flaky.store(provenance).catch((e: unknown) => e);
    expect(isProvenantError(e2) ? [e2.kind, e2.code] : e2).toEqual(['transient', 'DOCDB_UNAVAILABLE']);
    expect(JSON.stringify({ m: (e2 as Error).message, c: isProvenantError(e2) ? e2.context : {} })).not.toContain(env.AWS_SECRET_ACCESS_KEY);
    await flaky.store(provenance); // retried later: stored
    expect(dynamo.items('flaky').size).toBe(1);
  });
});

describe("firestore:// with @google-cloud/firestore's GAPIC client against a Firestore v1 gRPC stand-in", () => {
  // Chains' documented example URL: name_field=name (lowercase), so Name also stays among the fields.
  const url = 'firestore://projects/chains-project/databases/(default)/documents/signed?name_field=name';
  const collection = 'projects/chains-project/databases/(default)/documents/signed';

  it('commits gcpfirestore\'s document (name <collection>/<Name>, Signed bytes, "" kept, numbers doubles) idempotently, reads it back', async () => {
    const env = { FIRESTORE_EMULATOR_HOST: firestore.host };
    const config = docdbConfig(url);
    const backend = createDocdbStorage({ config: config.storage.docdb, logger: createSilentLogger(), env });
    await backend.store(provenance);
    await backend.store(provenance);
    await backend.store(imageSig);
    await backend.close();
    expect(firestore.calls.map((c) => c.method)).toEqual(['Commit', 'Commit', 'Commit']);
    const commit = firestore.calls[0]?.request as { database: string; writes: Array<Record<string, unknown>> };
    expect(commit.database).toBe('projects/chains-project/databases/(default)');
    expect(Object.keys(commit.writes[0] ?? {}).filter((k) => (commit.writes[0] ?? {})[k] !== undefined && (commit.writes[0] ?? {})[k] !== null).sort()).toEqual(['operation', 'update']);
    expect([...firestore.documents.keys()].sort()).toEqual([`${collection}/${digest.slice(0, 12)}`, `${collection}/${provenance.artifact.shortKey}`].sort());
    const fields = firestore.documents.get(`${collection}/${provenance.artifact.shortKey}`)!.fields;
    expect(Object.keys(fields).sort()).toEqual(['Cert', 'Chain', 'Name', 'Object', 'Signature', 'Signed']);
    expect(Buffer.from(fields['Signed']?.['bytesValue'] as Uint8Array).equals(Buffer.from(provenance.payload))).toBe(true);
    expect(fields['Cert']?.['stringValue']).toBe('');
    expect(fields['Name']?.['stringValue']).toBe(provenance.artifact.shortKey);
    const predicate = ((fields['Object']?.['mapValue'] as { fields: Record<string, { mapValue: { fields: Record<string, Record<string, unknown>> } }> }).fields['predicate']?.mapValue.fields) ?? {};
    expect([predicate['n']?.['doubleValue'], predicate['f']?.['doubleValue'], predicate['e']?.['stringValue']]).toEqual([3, 0.5, '']);

    const reader = openDocdbCollection({ config: config.storage.docdb, logger: createSilentLogger(), env });
    const doc = await reader.get(provenance.artifact.shortKey);
    expect(doc?.Signed.equals(Buffer.from(provenance.payload))).toBe(true);
    expect(doc?.Signature).toBe(annotationsForStorage(provenance)[`chains.tekton.dev/signature-${provenance.artifact.shortKey}`]);
    expect(await reader.get('nope')).toBeUndefined();
    expect((await reader.about(`sha256:${digest}`)).map((d) => d.Name).sort()).toEqual([digest.slice(0, 12), provenance.artifact.shortKey].sort());
    await reader.close();
  });

  it('UNAVAILABLE is transient DOCDB_UNAVAILABLE; PERMISSION_DENIED is config DOCDB_ACCESS_DENIED', async () => {
    const backend = createDocdbStorage({ config: docdbConfig(url).storage.docdb, logger: createSilentLogger(), env: { FIRESTORE_EMULATOR_HOST: firestore.host }, firestoreCallOptions: { maxRetries: 0 } });
    const grpcStatus = { UNAVAILABLE: 14, PERMISSION_DENIED: 7 };
    firestore.failNext(grpcStatus.UNAVAILABLE, 1);
    const e1 = await backend.store(provenance).catch((e: unknown) => e);
    firestore.failNext(grpcStatus.PERMISSION_DENIED, 1);
    const e2 = await backend.store(provenance).catch((e: unknown) => e);
    firestore.failNext(grpcStatus.PERMISSION_DENIED, 0);
    await backend.close();
    expect(isProvenantError(e1) ? [e1.kind, e1.code] : e1).toEqual(['transient', 'DOCDB_UNAVAILABLE']);
    expect(isProvenantError(e2) ? [e2.kind, e2.code] : e2).toEqual(['config', 'DOCDB_ACCESS_DENIED']);
  });
});

describe('inspect --docdb-url', () => {
  it('decodes the documents docdb stored for the run (provenance, then its image signature)', async () => {
    const { remoteStoreAttestations } = await import('../../src/cli/commands/inspect-remote.js');
    const backend = createDocdbStorage({ config: docdbConfig('mongo://chains/inspect?id_field=Name').storage.docdb, logger: createSilentLogger(), env: { MONGO_SERVER_URL: mongoUrl() } });
    await backend.store(provenance);
    await backend.store(imageSig);
    await backend.close();
    const notes: string[] = [];
    const found = await remoteStoreAttestations({ ...run, annotations: {} }, { docdbUrl: 'mongo://chains/inspect?id_field=Name', env: { MONGO_SERVER_URL_PATH: file('mongo-url') } }, notes);
    expect(notes).toEqual([]);
    expect(found.map((f) => [f.source, f.type, f.location])).toEqual([
      ['docdb', 'provenance', `mongo://chains/inspect#taskrun-${uid}`],
      ['docdb', 'image-signature', `mongo://chains/inspect#${digest.slice(0, 12)}`],
    ]);
    const missing: string[] = [];
    expect(await remoteStoreAttestations({ ...run, uid: 'other', annotations: {} }, { docdbUrl: 'mongo://chains/inspect?id_field=Name', env: { MONGO_SERVER_URL: mongoUrl() } }, missing)).toEqual([]);
    expect(missing).toEqual(['mongo://chains/inspect: no document taskrun-other']);
  });
});
