/**
 * `docdb` storage (`storage.docdb.url`): one document per signed artifact in a document store, as Tekton
 * Chains writes it with gocloud.dev/docstore (pkg/chains/storage/docdb): the Go struct
 *
 *   SignedDocument{ Signed []byte; Signature string; Cert string; Chain string; Object interface{}; Name string }
 *
 * with `Signed` = the signed payload bytes, `Signature` = std base64 of the signature (the DSSE envelope JSON
 * for provenance, the raw signature for an image signature: the `tekton` backend's signature annotation),
 * `Cert`/`Chain` = PEM text ("" with a key), `Object` = the payload parsed as JSON, `Name` = the short key.
 * `Put` replaces the document with that key, so storing again writes the same document (idempotent).
 *
 * How each go-cloud driver encodes it (field names are the Go names; no revision field, since
 * SignedDocument has none):
 * - `mongo://db/coll?id_field=Name` (mongodocstore): `{_id: Name, Signed: BinData(0), Signature, Cert, Chain,
 *   Object}`; `Name` itself is dropped only when `id_field` is spelled exactly `Name` (go-cloud deletes the
 *   key field by its URL spelling). JSON numbers in `Object` are BSON doubles (Go float64). Written with
 *   `replaceOne({_id}, doc, {upsert: true})`, read with `find({_id})`.
 * - `dynamodb://table?partition_key=Name` (awsdynamodb/v2): an item `{Name: S, Signed: B, Signature: S,
 *   Cert: S, Chain: S, Object: M}` where an empty string is `NULL: true`, numbers are `N` (no exponent),
 *   lists `L`, maps `M`. Written with PutItem (no condition), read with GetItem.
 * - `firestore://projects/p/databases/d/documents/coll?name_field=name` (gcpfirestore): document
 *   `<coll>/<Name>` with fields `Signed` (bytes), strings ("" kept), `Object` (map; numbers doubles), and `Name`
 *   unless `name_field` is spelled exactly `Name`. Written with Commit (one update write, no precondition)
 *   through the GAPIC client (the high-level SDK would write integers), read with BatchGetDocuments.
 *
 * The MongoDB connection string is Chains' `MONGO_SERVER_URL`, resolved in Chains' order: the file at
 * `storage.docdb.mongo-server-url-path`, the file `MONGO_SERVER_URL` in `storage.docdb.mongo-server-url-dir`,
 * `storage.docdb.mongo-server-url`, then the environment. The file is re-read before each store: a rotated
 * Secret takes effect on the next run (Chains watches it with fsnotify). It is never logged.
 *
 * SDKs (`mongodb`, `@aws-sdk/client-dynamodb`, `@google-cloud/firestore`) are imported on first use.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AttributeValue, DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { MongoClient, MongoClientOptions } from 'mongodb';
import { parseDocdbUrl, type Config, type DocdbCollectionRef, type DynamoCollectionRef, type FirestoreCollectionRef, type MongoCollectionRef } from '../config/index.js';
import { ProvenantError, isProvenantError, type StorageErrorCode } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { formatRunKey } from '../tekton/run-key.js';
import { annotationsForStorage } from './tekton-storage.js';
import type { StorageBackend, StoreRequest, StoreResult } from './types.js';

/** Chains' `SignedDocument`, field for field. */
export interface SignedDocument {
  readonly Signed: Buffer;
  readonly Signature: string;
  readonly Cert: string;
  readonly Chain: string;
  readonly Object: unknown;
  readonly Name: string;
}

export interface DocdbDeps {
  readonly config: Config['storage']['docdb'];
  readonly logger: Logger;
  /** Environment (`MONGO_SERVER_URL`, AWS credentials); default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Extra MongoClient options (tests: a short `serverSelectionTimeoutMS`). */
  readonly mongoOptions?: MongoClientOptions;
  /** Extra DynamoDB client options (tests: credentials). */
  readonly dynamoOptions?: DynamoDBClientConfig;
  /** google-gax call options for Firestore RPCs (tests: no retries). */
  readonly firestoreCallOptions?: Record<string, unknown>;
}

/** A docstore collection holding SignedDocuments. */
export interface DocdbCollection {
  /** `mongo://db/coll` or `dynamodb://table`: where, without credentials. */
  readonly location: string;
  put(doc: SignedDocument): Promise<void>;
  get(name: string): Promise<SignedDocument | undefined>;
  /**
   * Documents about an image: provenance whose statement names `sha256:<hex>` as a subject, and image
   * signatures whose simple-signing payload names it (`Object.critical.image.docker-manifest-digest`).
   * MongoDB answers with a query; DynamoDB with a bounded scan (`maxScanned` items).
   */
  about(digest: string, maxScanned?: number): Promise<SignedDocument[]>;
  close(): Promise<void>;
}

/** The document Chains' StorePayload builds for this request. */
export function signedDocumentFor(request: StoreRequest): SignedDocument {
  const a = annotationsForStorage(request);
  const key = request.artifact.shortKey;
  const text = (part: 'cert' | 'chain'): string => Buffer.from(a[`chains.tekton.dev/${part}-${key}`] ?? '', 'base64').toString('utf8');
  const payload = Buffer.from(request.payload);
  let object: unknown;
  try {
    object = JSON.parse(payload.toString('utf8'));
  } catch {
    // Chains fails StorePayload the same way (json.Unmarshal of the raw payload).
    throw new ProvenantError('permanent', 'DOCDB_PAYLOAD_NOT_JSON', 'docdb storage: the signed payload is not JSON', { context: { run: formatRunKey(request.run), shortKey: key } });
  }
  return { Signed: payload, Signature: a[`chains.tekton.dev/signature-${key}`] ?? '', Cert: text('cert'), Chain: text('chain'), Object: object, Name: key };
}

/** The tekton-annotation form of a stored document (what `artifactsFromAnnotations` decodes). */
export function annotationsOfDocument(doc: SignedDocument): Record<string, string> {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  return {
    [`chains.tekton.dev/payload-${doc.Name}`]: doc.Signed.toString('base64'),
    [`chains.tekton.dev/signature-${doc.Name}`]: doc.Signature,
    [`chains.tekton.dev/cert-${doc.Name}`]: b64(doc.Cert),
    [`chains.tekton.dev/chain-${doc.Name}`]: b64(doc.Chain),
  };
}

function docdbError(kind: 'transient' | 'permanent' | 'config', code: StorageErrorCode, message: string, context: Record<string, unknown>): ProvenantError {
  return new ProvenantError(kind, code, message, { context });
}

// ---------------------------------------------------------------------------------------------- MongoDB

/** Chains' MONGO_SERVER_URL, in Chains' order of preference. Never logged. */
export async function resolveMongoServerUrl(config: Config['storage']['docdb'], env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const fromFile = async (file: string, key: string): Promise<string> => {
    try {
      return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      const missing = (err as { code?: unknown }).code === 'ENOENT';
      throw docdbError('config', 'DOCDB_CONNECTION_MISSING', `docdb storage: cannot read the MongoDB connection string from ${file}`, {
        key,
        file,
        reason: missing ? 'not found' : 'unreadable',
        hint: 'mount the Secret holding the MongoDB URL at that path',
      });
    }
  };
  let value: string | undefined;
  if (config.mongoServerUrlPath !== undefined) value = await fromFile(config.mongoServerUrlPath, 'storage.docdb.mongo-server-url-path');
  else if (config.mongoServerUrlDir !== undefined) value = await fromFile(path.join(config.mongoServerUrlDir, 'MONGO_SERVER_URL'), 'storage.docdb.mongo-server-url-dir');
  else value = config.mongoServerUrl ?? env['MONGO_SERVER_URL'];
  if (value === undefined || value.trim() === '') {
    throw docdbError('config', 'DOCDB_CONNECTION_MISSING', 'docdb storage: mongo:// needs a MongoDB connection string', {
      hint: 'set storage.docdb.mongo-server-url-path (a mounted Secret), storage.docdb.mongo-server-url-dir, storage.docdb.mongo-server-url or MONGO_SERVER_URL',
    });
  }
  if (!/^mongodb(\+srv)?:\/\//.test(value.trim())) {
    throw docdbError('config', 'DOCDB_CONNECTION_MISSING', 'docdb storage: the MongoDB connection string must start with mongodb:// or mongodb+srv://', {});
  }
  return value.trim();
}

/** JSON → BSON values the way mongodocstore encodes Go's json.Unmarshal output: every number a double. */
function toBsonValue(v: unknown, Double: new (n: number) => unknown): unknown {
  if (typeof v === 'number') return new Double(v);
  if (Array.isArray(v)) return v.map((x) => toBsonValue(x, Double));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toBsonValue(x, Double)]));
  return v;
}

/** BSON (as the driver decodes it) → plain JSON values. */
function fromBsonValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromBsonValue);
  if (v !== null && typeof v === 'object') {
    const t = (v as { _bsontype?: unknown })._bsontype;
    if (t === 'Double' || t === 'Int32' || t === 'Long') return Number((v as { valueOf(): unknown }).valueOf());
    if (t === 'Binary') return Buffer.from((v as { buffer: Uint8Array }).buffer);
    if (t !== undefined) return String(v);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromBsonValue(x)]));
  }
  return v;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function bytes(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (v !== null && typeof v === 'object' && (v as { _bsontype?: unknown })._bsontype === 'Binary') return Buffer.from((v as { buffer: Uint8Array }).buffer);
  return Buffer.alloc(0);
}

function classifyMongo(err: unknown): { kind: 'transient' | 'permanent' | 'config'; code: StorageErrorCode } {
  const e = err as { name?: unknown; code?: unknown; errorLabelSet?: Set<string> };
  const name = typeof e.name === 'string' ? e.name : '';
  // 13 Unauthorized, 18 AuthenticationFailed, 8000 AtlasError (bad credentials)
  if (e.code === 13 || e.code === 18 || e.code === 8000 || name === 'MongoParseError' || name === 'MongoAPIError' || name === 'MongoInvalidArgumentError') {
    return { kind: 'config', code: 'DOCDB_ACCESS_DENIED' };
  }
  if (name === 'MongoServerError' && !(e.errorLabelSet?.has('RetryableWriteError') ?? false) && e.code !== 91 && e.code !== 189 && e.code !== 11600) {
    return { kind: 'permanent', code: 'DOCDB_REJECTED' };
  }
  return { kind: 'transient', code: 'DOCDB_UNAVAILABLE' };
}

function mongoFailure(err: unknown, what: string, location: string, extra: Record<string, unknown> = {}): ProvenantError {
  if (isProvenantError(err)) return err;
  const c = classifyMongo(err);
  const name = (err as { name?: unknown }).name;
  const serverCode = (err as { code?: unknown }).code;
  return docdbError(c.kind, c.code, `docdb storage: cannot ${what} ${location}`, {
    ...extra,
    collection: location,
    error: typeof name === 'string' ? name : 'unknown',
    ...(typeof serverCode === 'number' ? { serverCode } : {}),
    hint: c.kind === 'transient' ? 'the MongoDB server did not answer; the run is retried' : 'check the MongoDB user and its roles (readWrite on the database)',
  });
}

function mongoCollection(ref: MongoCollectionRef, deps: DocdbDeps): DocdbCollection {
  const location = `mongo://${ref.database}/${ref.collection}`;
  let current: { url: string; client: Promise<MongoClient> } | undefined;
  const clientFor = async (): Promise<MongoClient> => {
    const url = await resolveMongoServerUrl(deps.config, deps.env ?? process.env);
    if (current?.url !== url) {
      const previous = current;
      const { MongoClient } = await import('mongodb');
      // A bounded wait for an unreachable server (the driver's default is 30 s), unless the URL sets its own.
      const options: MongoClientOptions = { ...(/[?&]serverSelectionTimeoutMS=/i.test(url) ? {} : { serverSelectionTimeoutMS: 10_000 }), appName: 'provenant', ...deps.mongoOptions };
      let client: MongoClient;
      try {
        client = new MongoClient(url, options);
      } catch (err) {
        throw mongoFailure(err, 'use the MongoDB connection string for', location);
      }
      current = { url, client: Promise.resolve(client) };
      // The connection string changed (Secret rotated): the old client is closed, as Chains rebuilds its backend.
      if (previous !== undefined) void previous.client.then((c) => c.close()).catch(() => undefined);
      if (previous !== undefined) deps.logger.info({ collection: location }, 'MongoDB connection string changed; reconnecting');
    }
    return current.client;
  };
  const coll = async () => (await clientFor()).db(ref.database).collection(ref.collection);
  const decode = (m: Record<string, unknown>): SignedDocument => ({
    Signed: bytes(m['Signed']),
    Signature: str(m['Signature']),
    Cert: str(m['Cert']),
    Chain: str(m['Chain']),
    Object: fromBsonValue(m['Object']),
    Name: str(m['_id']),
  });
  return {
    location,
    async put(doc) {
      const { Binary, Double } = await import('mongodb');
      const body: Record<string, unknown> = {
        Signed: new Binary(doc.Signed, 0),
        Signature: doc.Signature,
        Cert: doc.Cert,
        Chain: doc.Chain,
        Object: toBsonValue(doc.Object, Double),
      };
      // go-cloud deletes the key field by its URL spelling: with id_field=name, Name stays in the document.
      if (ref.idField !== 'Name') body['Name'] = doc.Name;
      try {
        await (await coll()).replaceOne({ _id: doc.Name as never }, body, { upsert: true });
      } catch (err) {
        throw mongoFailure(err, 'write to', location, { name: doc.Name });
      }
    },
    async get(name) {
      try {
        const m = await (await coll()).findOne({ _id: name as never });
        return m === null ? undefined : decode(m);
      } catch (err) {
        throw mongoFailure(err, 'read from', location, { name });
      }
    },
    async about(digest, maxScanned = 1000) {
      const hex = digest.replace(/^sha256:/, '');
      try {
        const found = await (await coll())
          .find({ $or: [{ 'Object.subject.digest.sha256': hex }, { 'Object.critical.image.docker-manifest-digest': `sha256:${hex}` }] })
          .limit(maxScanned)
          .toArray();
        return found.map(decode);
      } catch (err) {
        throw mongoFailure(err, 'query', location);
      }
    },
    async close() {
      const c = current;
      current = undefined;
      if (c !== undefined) await (await c.client).close();
    },
  };
}

// --------------------------------------------------------------------------------------------- DynamoDB

/** strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent. */
function goFloat(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  const [mant = '', expPart = '0'] = s.toLowerCase().split('e');
  const exp = Number(expPart);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const point = (mant.replace('-', '').indexOf('.') === -1 ? mant.replace('-', '').length : mant.replace('-', '').indexOf('.')) + exp;
  const out = point <= 0 ? `0.${'0'.repeat(-point)}${digits}` : point >= digits.length ? digits + '0'.repeat(point - digits.length) : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (neg ? '-' : '') + out;
}

/** A JSON value as awsdynamodb/v2 encodes it (empty string → NULL). */
export function toAttributeValue(v: unknown): AttributeValue {
  if (v === null || v === undefined) return { NULL: true };
  if (typeof v === 'string') return v === '' ? { NULL: true } : { S: v };
  if (typeof v === 'number') return { N: goFloat(v) };
  if (typeof v === 'boolean') return { BOOL: v };
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { B: v };
  if (Array.isArray(v)) return { L: v.map(toAttributeValue) };
  return { M: Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toAttributeValue(x)])) };
}

export function fromAttributeValue(av: AttributeValue | undefined): unknown {
  if (av === undefined || av.NULL !== undefined) return null;
  if (av.S !== undefined) return av.S;
  if (av.N !== undefined) return Number(av.N);
  if (av.BOOL !== undefined) return av.BOOL;
  if (av.B !== undefined) return Buffer.from(av.B);
  if (av.L !== undefined) return av.L.map(fromAttributeValue);
  if (av.M !== undefined) return Object.fromEntries(Object.entries(av.M).map(([k, x]) => [k, fromAttributeValue(x)]));
  return null;
}

/** The item awsdynamodb/v2 writes for a SignedDocument. */
export function dynamoItem(doc: SignedDocument): Record<string, AttributeValue> {
  return {
    Signed: { B: doc.Signed },
    Signature: toAttributeValue(doc.Signature),
    Cert: toAttributeValue(doc.Cert),
    Chain: toAttributeValue(doc.Chain),
    Object: toAttributeValue(doc.Object),
    Name: toAttributeValue(doc.Name),
  };
}

function documentOfItem(item: Record<string, AttributeValue>): SignedDocument {
  const s = (k: string): string => {
    const v = fromAttributeValue(item[k]);
    return typeof v === 'string' ? v : '';
  };
  const signed = item['Signed']?.B;
  return { Signed: signed === undefined ? Buffer.alloc(0) : Buffer.from(signed), Signature: s('Signature'), Cert: s('Cert'), Chain: s('Chain'), Object: fromAttributeValue(item['Object']), Name: s('Name') };
}

function classifyDynamo(err: unknown): { kind: 'transient' | 'permanent' | 'config'; code: StorageErrorCode } {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const name = typeof e.name === 'string' ? e.name : '';
  const status = e.$metadata?.httpStatusCode;
  if (name === 'ResourceNotFoundException') return { kind: 'config', code: 'DOCDB_COLLECTION_NOT_FOUND' };
  if (['AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'MissingAuthenticationTokenException', 'CredentialsProviderError'].includes(name)) {
    return { kind: 'config', code: 'DOCDB_ACCESS_DENIED' };
  }
  if (name === 'ProvisionedThroughputExceededException' || name === 'ThrottlingException' || name === 'RequestLimitExceeded' || status === undefined || status >= 500) {
    return { kind: 'transient', code: 'DOCDB_UNAVAILABLE' };
  }
  return { kind: 'permanent', code: 'DOCDB_REJECTED' };
}

function dynamoFailure(err: unknown, what: string, location: string, extra: Record<string, unknown> = {}): ProvenantError {
  if (isProvenantError(err)) return err;
  const c = classifyDynamo(err);
  const name = (err as { name?: unknown }).name;
  return docdbError(c.kind, c.code, `docdb storage: cannot ${what} ${location}`, {
    ...extra,
    collection: location,
    error: typeof name === 'string' ? name : 'unknown',
    status: (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
    hint: c.code === 'DOCDB_COLLECTION_NOT_FOUND' ? 'create the table with partition key Name (S)' : c.kind === 'config' ? 'grant dynamodb:PutItem, GetItem, DescribeTable (and Scan for trace) on the table' : 'retried',
  });
}

function dynamoCollection(ref: DynamoCollectionRef, deps: DocdbDeps): DocdbCollection {
  const location = `dynamodb://${ref.table}`;
  let client: Promise<DynamoDBClient> | undefined;
  let described: Promise<void> | undefined;
  const sdk = () => import('@aws-sdk/client-dynamodb');
  const open = async (): Promise<DynamoDBClient> => {
    const env = deps.env ?? process.env;
    const accessKeyId = env['AWS_ACCESS_KEY_ID'];
    const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
    const sessionToken = env['AWS_SESSION_TOKEN'];
    // Keys from the given environment (the CLI's); otherwise the SDK's default chain (IRSA, instance role …).
    const credentials =
      accessKeyId !== undefined && accessKeyId !== '' && secretAccessKey !== undefined && secretAccessKey !== ''
        ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined || sessionToken === '' ? {} : { sessionToken }) } }
        : {};
    const region = ref.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
    client ??= sdk().then(
      ({ DynamoDBClient }) =>
        new DynamoDBClient({
          ...credentials,
          ...(region === undefined ? {} : { region }),
          ...(ref.endpoint === undefined ? {} : { endpoint: ref.endpoint }),
          ...(ref.profile === undefined ? {} : { profile: ref.profile }),
          ...(ref.fips ? { useFipsEndpoint: true } : {}),
          ...(ref.dualstack ? { useDualstackEndpoint: true } : {}),
          ...deps.dynamoOptions,
        }),
    );
    const c = await client;
    // go-cloud describes the table when it opens the collection: a missing table is a config error up front.
    described ??= (async () => {
      const { DescribeTableCommand } = await sdk();
      await c.send(new DescribeTableCommand({ TableName: ref.table }));
    })().catch((err: unknown) => {
      described = undefined;
      throw dynamoFailure(err, 'describe', location);
    });
    await described;
    return c;
  };
  return {
    location,
    async put(doc) {
      const c = await open();
      const { PutItemCommand } = await sdk();
      try {
        await c.send(new PutItemCommand({ TableName: ref.table, Item: dynamoItem(doc) }));
      } catch (err) {
        throw dynamoFailure(err, 'write to', location, { name: doc.Name });
      }
    },
    async get(name) {
      const c = await open();
      const { GetItemCommand } = await sdk();
      try {
        const out = await c.send(new GetItemCommand({ TableName: ref.table, Key: { Name: { S: name } }, ConsistentRead: ref.consistentRead }));
        return out.Item === undefined ? undefined : documentOfItem(out.Item);
      } catch (err) {
        throw dynamoFailure(err, 'read from', location, { name });
      }
    },
    async about(digest, maxScanned = 1000) {
      const c = await open();
      const { ScanCommand } = await sdk();
      const want = `sha256:${digest.replace(/^sha256:/, '')}`;
      const out: SignedDocument[] = [];
      let start: Record<string, AttributeValue> | undefined;
      let scanned = 0;
      try {
        do {
          const page = await c.send(new ScanCommand({ TableName: ref.table, ...(start === undefined ? {} : { ExclusiveStartKey: start }), Limit: Math.min(100, maxScanned - scanned) }));
          for (const item of page.Items ?? []) {
            const doc = documentOfItem(item);
            if (documentDigests(doc).includes(want)) out.push(doc);
          }
          scanned += page.ScannedCount ?? page.Items?.length ?? 0;
          start = page.LastEvaluatedKey;
        } while (start !== undefined && scanned < maxScanned);
      } catch (err) {
        throw dynamoFailure(err, 'scan', location);
      }
      return out;
    },
    async close() {
      const c = client;
      client = undefined;
      if (c !== undefined) (await c).destroy();
    },
  };
}

// -------------------------------------------------------------------------------------------- Firestore

/** A Firestore `Value` (the GAPIC client's plain-object form). */
export type FirestoreValue = Record<string, unknown>;

/** A JSON value as gcpfirestore encodes Go's json.Unmarshal output (every number a double; "" kept). */
export function toFirestoreValue(v: unknown): FirestoreValue {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { doubleValue: v };
  if (typeof v === 'boolean') return { booleanValue: v };
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { bytesValue: Buffer.from(v) };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(toFirestoreValue) } };
  return { mapValue: { fields: Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toFirestoreValue(x)])) } };
}

export function fromFirestoreValue(v: FirestoreValue | undefined | null): unknown {
  if (v === undefined || v === null) return null;
  const kind = typeof v['valueType'] === 'string' ? (v['valueType'] as string) : Object.keys(v).find((k) => k.endsWith('Value') && v[k] !== undefined && v[k] !== null);
  const x = kind === undefined ? undefined : v[kind];
  switch (kind) {
    case 'stringValue':
      return x;
    case 'doubleValue':
      return Number(x);
    case 'integerValue':
      return Number(x);
    case 'booleanValue':
      return x === true;
    case 'bytesValue':
      return Buffer.from(x as Uint8Array);
    case 'arrayValue':
      return ((x as { values?: FirestoreValue[] } | null)?.values ?? []).map(fromFirestoreValue);
    case 'mapValue':
      return Object.fromEntries(Object.entries((x as { fields?: Record<string, FirestoreValue> } | null)?.fields ?? {}).map(([k, y]) => [k, fromFirestoreValue(y)]));
    default:
      return null;
  }
}

/** The fields gcpfirestore writes for a SignedDocument (the key field removed by its URL spelling). */
export function firestoreFields(doc: SignedDocument, nameField: string): Record<string, FirestoreValue> {
  const fields: Record<string, FirestoreValue> = {
    Signed: { bytesValue: doc.Signed },
    Signature: toFirestoreValue(doc.Signature),
    Cert: toFirestoreValue(doc.Cert),
    Chain: toFirestoreValue(doc.Chain),
    Object: toFirestoreValue(doc.Object),
    Name: toFirestoreValue(doc.Name),
  };
  delete fields[nameField];
  return fields;
}

function classifyGrpc(err: unknown): { kind: 'transient' | 'permanent' | 'config'; code: StorageErrorCode } {
  const code = (err as { code?: unknown }).code;
  if (code === 7 || code === 16) return { kind: 'config', code: 'DOCDB_ACCESS_DENIED' };
  if (code === 5) return { kind: 'config', code: 'DOCDB_COLLECTION_NOT_FOUND' };
  if (code === 14 || code === 4 || code === 8 || code === 10 || code === 13 || code === 1 || typeof code !== 'number') return { kind: 'transient', code: 'DOCDB_UNAVAILABLE' };
  return { kind: 'permanent', code: 'DOCDB_REJECTED' };
}

function firestoreFailure(err: unknown, what: string, location: string, extra: Record<string, unknown> = {}): ProvenantError {
  if (isProvenantError(err)) return err;
  const c = classifyGrpc(err);
  const code = (err as { code?: unknown }).code;
  return docdbError(c.kind, c.code, `docdb storage: cannot ${what} ${location}`, {
    ...extra,
    collection: location,
    ...(typeof code === 'number' ? { grpcStatus: code } : {}),
    hint: c.kind === 'config' ? 'grant the controller roles/datastore.user on the project' : 'retried',
  });
}

interface FirestoreGapic {
  commit(request: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
  batchGetDocuments(request: Record<string, unknown>, options?: Record<string, unknown>): AsyncIterable<{ found?: { name?: string; fields?: Record<string, FirestoreValue> } | null }> & { on(event: string, fn: (...a: unknown[]) => void): unknown };
  runQuery(request: Record<string, unknown>, options?: Record<string, unknown>): AsyncIterable<{ document?: { name?: string; fields?: Record<string, FirestoreValue> } | null }>;
  close(): Promise<void>;
}

function firestoreCollection(ref: FirestoreCollectionRef, deps: DocdbDeps): DocdbCollection {
  const location = `firestore://${ref.collection}`;
  let client: Promise<FirestoreGapic> | undefined;
  const open = (): Promise<FirestoreGapic> =>
    (client ??= (async () => {
      const env = deps.env ?? process.env;
      const { v1 } = (await import('@google-cloud/firestore')) as unknown as { v1: { FirestoreClient: new (o: Record<string, unknown>) => FirestoreGapic } };
      // FIRESTORE_EMULATOR_HOST (as go-cloud and the Firestore SDKs): plaintext gRPC, no credentials.
      const emulator = env['FIRESTORE_EMULATOR_HOST'];
      if (emulator !== undefined && emulator !== '') {
        const { credentials } = await import('@grpc/grpc-js');
        const at = emulator.lastIndexOf(':');
        return new v1.FirestoreClient({ apiEndpoint: emulator.slice(0, at), port: Number(emulator.slice(at + 1)), sslCreds: credentials.createInsecure() });
      }
      return new v1.FirestoreClient({});
    })());
  const nameOf = (key: string): string => `${ref.collection}/${key}`;
  const decode = (d: { name?: string; fields?: Record<string, FirestoreValue> }): SignedDocument => {
    const f = d.fields ?? {};
    const s = (k: string): string => {
      const v = fromFirestoreValue(f[k]);
      return typeof v === 'string' ? v : '';
    };
    const signed = fromFirestoreValue(f['Signed']);
    const name = d.name ?? '';
    return { Signed: Buffer.isBuffer(signed) ? signed : Buffer.alloc(0), Signature: s('Signature'), Cert: s('Cert'), Chain: s('Chain'), Object: fromFirestoreValue(f['Object']), Name: name.slice(name.lastIndexOf('/') + 1) };
  };
  return {
    location,
    async put(doc) {
      const c = await open();
      try {
        // gcpfirestore's Put: one update write, the whole document, no precondition.
        await c.commit({ database: ref.database, writes: [{ update: { name: nameOf(doc.Name), fields: firestoreFields(doc, ref.nameField) } }] }, deps.firestoreCallOptions);
      } catch (err) {
        throw firestoreFailure(err, 'write to', location, { name: doc.Name });
      }
    },
    async get(name) {
      const c = await open();
      try {
        for await (const r of c.batchGetDocuments({ database: ref.database, documents: [nameOf(name)] }, deps.firestoreCallOptions)) {
          if (r.found !== undefined && r.found !== null) return decode(r.found);
        }
        return undefined;
      } catch (err) {
        throw firestoreFailure(err, 'read from', location, { name });
      }
    },
    async about(digest, maxScanned = 1000) {
      const c = await open();
      const want = `sha256:${digest.replace(/^sha256:/, '')}`;
      const slash = ref.collection.lastIndexOf('/');
      const out: SignedDocument[] = [];
      try {
        // Firestore cannot filter on a field inside array elements: read (at most maxScanned) and match here.
        for await (const r of c.runQuery({ parent: ref.collection.slice(0, slash), structuredQuery: { from: [{ collectionId: ref.collection.slice(slash + 1) }], limit: { value: maxScanned } } }, deps.firestoreCallOptions)) {
          if (r.document === undefined || r.document === null) continue;
          const doc = decode(r.document);
          if (documentDigests(doc).includes(want)) out.push(doc);
        }
      } catch (err) {
        throw firestoreFailure(err, 'query', location);
      }
      return out;
    },
    async close() {
      const c = client;
      client = undefined;
      if (c !== undefined) await (await c).close();
    },
  };
}

/** `sha256:<hex>` digests a stored document is about (statement subjects, or the signed image). */
export function documentDigests(doc: SignedDocument): string[] {
  const o = doc.Object as { subject?: { digest?: { sha256?: unknown } }[]; critical?: { image?: Record<string, unknown> } } | null;
  if (o === null || typeof o !== 'object') return [];
  const out: string[] = [];
  for (const s of Array.isArray(o.subject) ? o.subject : []) if (typeof s?.digest?.sha256 === 'string') out.push(`sha256:${s.digest.sha256.toLowerCase()}`);
  const image = o.critical?.image?.['docker-manifest-digest'];
  if (typeof image === 'string') out.push(image.toLowerCase());
  return out;
}

/** Opens the collection `storage.docdb.url` names (the URL was validated at config load). */
export function openDocdbCollection(deps: DocdbDeps): DocdbCollection {
  const url = deps.config.url;
  const parsed = url === undefined ? undefined : parseDocdbUrl(url);
  if (parsed === undefined || !parsed.ok) {
    throw docdbError('config', 'STORAGE_DEPENDENCY_MISSING', 'docdb storage needs a valid storage.docdb.url', { key: 'storage.docdb.url', ...(parsed === undefined || parsed.ok ? {} : { problem: parsed.problem }) });
  }
  const ref: DocdbCollectionRef = parsed.ref;
  if (ref.scheme === 'mongo') return mongoCollection(ref, deps);
  if (ref.scheme === 'firestore') return firestoreCollection(ref, deps);
  return dynamoCollection(ref, deps);
}

export function createDocdbStorage(deps: DocdbDeps): StorageBackend & { close(): Promise<void> } {
  const collection = openDocdbCollection(deps);
  return {
    name: 'docdb',
    async store(request: StoreRequest): Promise<StoreResult> {
      const doc = signedDocumentFor(request);
      await collection.put(doc);
      deps.logger.debug({ run: formatRunKey(request.run), collection: collection.location, name: doc.Name }, 'stored in docdb');
      return { backend: 'docdb', locations: [`${collection.location}#${doc.Name}`] };
    },
    close: () => collection.close(),
  };
}
