/**
 * `storage.docdb.url`: a go-cloud docstore collection URL, as Tekton Chains opens it with
 * `docstore.OpenCollection` (gocloud.dev v0.46). Pure: parses and checks, never connects.
 *
 * Chains stores one `SignedDocument{Signed, Signature, Cert, Chain, Object, Name}` per artifact and
 * reads it back with `coll.Get(&SignedDocument{Name: shortKey})`, so the collection's key must be the
 * `Name` field; go-cloud's drivers decide how that is spelled in the URL:
 * - `mongo://<database>/<collection>?id_field=<Name>[&revision_field=…]` (mongodocstore): the key field is
 *   matched case-insensitively against the struct; without `id_field` the key is `_id`, which
 *   SignedDocument lacks, and every Put fails ("missing document key"). The connection string comes from
 *   `MONGO_SERVER_URL` (see `storage.docdb.mongo-server-url*`).
 * - `dynamodb://<table>?partition_key=Name[&region=…&endpoint=…&profile=…&consistent_read=true]`
 *   (awsdynamodb/v2): the partition key is looked up, case-sensitively, in the encoded item, so only
 *   `Name` works; a sort key would make Chains' own Get fail, so it is refused.
 *
 * - `firestore://projects/<p>/databases/<d>/documents/<collection>?name_field=name` (gcpfirestore): the
 *   document's name is `<collection>/<Name>`; `Name` stays among the fields unless spelled `Name` exactly.
 *
 * Refused, each with its reason (docs/storage-docdb.md): `mem://` (go-cloud's
 * in-process collection: attestations vanish on restart while the run stays marked signed), and any
 * other scheme go-cloud does not register.
 */

export interface MongoCollectionRef {
  readonly scheme: 'mongo';
  readonly database: string;
  readonly collection: string;
  /** The `id_field` exactly as written (`Name`, `name` …): decides whether `Name` is also kept in the document. */
  readonly idField: string;
  readonly revisionField: string | undefined;
}

export interface DynamoCollectionRef {
  readonly scheme: 'dynamodb';
  readonly table: string;
  readonly partitionKey: 'Name';
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  readonly profile: string | undefined;
  readonly consistentRead: boolean;
  readonly fips: boolean;
  readonly dualstack: boolean;
  readonly revisionField: string | undefined;
}

export interface FirestoreCollectionRef {
  readonly scheme: 'firestore';
  /** `projects/<project>/databases/<database>` */
  readonly database: string;
  /** `projects/<project>/databases/<database>/documents/<collection path>` */
  readonly collection: string;
  /** The `name_field` exactly as written: decides whether `Name` is also kept among the fields. */
  readonly nameField: string;
  readonly revisionField: string | undefined;
}

export type DocdbCollectionRef = MongoCollectionRef | DynamoCollectionRef | FirestoreCollectionRef;

/** The fields of Chains' `SignedDocument`, in declaration order. */
export const signedDocumentFields = ['Signed', 'Signature', 'Cert', 'Chain', 'Object', 'Name'] as const;

export const docdbSupportedSchemes = ['mongo', 'dynamodb', 'firestore'] as const;

const refusedSchemes: Readonly<Record<string, string>> = {
  mem: 'mem:// is refused: go-cloud\'s in-memory collection loses every attestation on restart while the run stays marked signed; use the "local" backend for a throwaway store',
};

const awsBooleans = new Set(['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False', 'T', 'F']);

function truthy(v: string | null): boolean {
  return v !== null && ['true', '1', 't', 'TRUE', 'True', 'T'].includes(v);
}

/** Parses a docdb URL: the collection reference, or the reason it is not accepted. */
export function parseDocdbUrl(value: string): { readonly ok: true; readonly ref: DocdbCollectionRef } | { readonly ok: false; readonly problem: string } {
  const fail = (problem: string): { ok: false; problem: string } => ({ ok: false, problem });
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return fail('must be a go-cloud docstore URL such as mongo://<database>/<collection>?id_field=Name');
  const refused = refusedSchemes[scheme];
  if (refused !== undefined) return fail(refused);
  if (!(docdbSupportedSchemes as readonly string[]).includes(scheme)) {
    return fail(`scheme "${scheme}://" is not a go-cloud docstore that provenant supports; use mongo://, dynamodb:// or firestore://`);
  }
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return fail('is not a valid URL');
  }
  if (u.username !== '' || u.password !== '') return fail('must not carry credentials (MongoDB: put them in storage.docdb.mongo-server-url-path)');
  const q = u.searchParams;
  const known = (names: readonly string[]): string | undefined => [...q.keys()].find((k) => !names.includes(k));
  const host = decodeURIComponent(u.host);
  if (scheme === 'firestore') {
    const extra = known(['name_field', 'revision_field']);
    if (extra !== undefined) return fail(`invalid query parameter "${extra}" (firestore:// takes name_field and revision_field)`);
    const collection = `${host}${decodeURIComponent(u.pathname)}`.replace(/\/+$/, '');
    // gocloud.dev/docstore/gcpfirestore: projects/<p>/databases/<d>/documents/<collection path> (odd segment count).
    const m = /^(projects\/[^/]+\/databases\/[^/]+)\/documents\/([^/]+(?:\/[^/]+\/[^/]+)*)$/.exec(collection);
    if (m === null) return fail('firestore:// must be firestore://projects/<project>/databases/<database>/documents/<collection>?name_field=name');
    const nameField = q.get('name_field') ?? '';
    if (nameField.toLowerCase() !== 'name') {
      return fail('firestore:// needs name_field=name: Tekton Chains keys each document by its Name field');
    }
    const revisionField = q.get('revision_field') ?? undefined;
    if (revisionField !== undefined && signedDocumentFields.some((f) => f.toLowerCase() === revisionField.toLowerCase())) {
      return fail(`revision_field "${revisionField}" would overwrite a field of the stored document`);
    }
    return { ok: true, ref: { scheme: 'firestore', database: m[1] ?? '', collection, nameField, revisionField } };
  }
  if (scheme === 'mongo') {
    const extra = known(['id_field', 'revision_field']);
    if (extra !== undefined) return fail(`invalid query parameter "${extra}" (mongo:// takes id_field and revision_field)`);
    if (host === '') return fail('mongo:// needs the database name as host: mongo://<database>/<collection>?id_field=Name');
    const collection = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (collection === '') return fail('mongo:// needs the collection name as path: mongo://<database>/<collection>?id_field=Name');
    const idField = q.get('id_field') ?? '';
    if (idField.toLowerCase() !== 'name') {
      return fail('mongo:// needs id_field=Name: Tekton Chains keys each document by its Name field (without it every write fails with "missing document key")');
    }
    const revisionField = q.get('revision_field') ?? undefined;
    if (revisionField !== undefined && signedDocumentFields.some((f) => f.toLowerCase() === revisionField.toLowerCase())) {
      return fail(`revision_field "${revisionField}" would overwrite a field of the stored document`);
    }
    return { ok: true, ref: { scheme: 'mongo', database: host, collection, idField, revisionField } };
  }
  const extra = known(['partition_key', 'sort_key', 'region', 'endpoint', 'profile', 'consistent_read', 'allow_scans', 'revision_field', 'fips', 'dualstack', 'awssdk', 'hostname_immutable']);
  if (extra !== undefined) return fail(`query parameter "${extra}" is not supported by provenant's dynamodb:// (supported: partition_key, region, endpoint, profile, consistent_read, fips, dualstack)`);
  if (host === '') return fail("dynamodb:// needs the table name as host: dynamodb://<table>?partition_key=Name");
  if (u.pathname !== '' && u.pathname !== '/') return fail('dynamodb:// takes no path, only the table name as host');
  if (q.get('partition_key') !== 'Name') {
    return fail('dynamodb:// needs partition_key=Name: Tekton Chains keys each document by its Name field (go-cloud matches it case-sensitively)');
  }
  if (q.has('sort_key')) return fail('dynamodb:// with sort_key is refused: Chains reads documents back by Name alone, so its own reads would fail');
  for (const b of ['consistent_read', 'allow_scans', 'fips', 'dualstack', 'hostname_immutable']) {
    const v = q.get(b);
    if (v !== null && !awsBooleans.has(v)) return fail(`${b} must be true or false`);
  }
  const endpoint = q.get('endpoint') ?? undefined;
  if (endpoint !== undefined) {
    try {
      const e = new URL(endpoint);
      if (e.protocol !== 'https:' && e.protocol !== 'http:') throw new Error('scheme');
    } catch {
      return fail('endpoint must be an http(s) URL');
    }
  }
  const revisionField = q.get('revision_field') ?? undefined;
  if (revisionField !== undefined && signedDocumentFields.some((f) => f === revisionField)) {
    return fail(`revision_field "${revisionField}" would overwrite a field of the stored document`);
  }
  return {
    ok: true,
    ref: {
      scheme: 'dynamodb',
      table: host,
      partitionKey: 'Name',
      region: q.get('region') ?? undefined,
      endpoint,
      profile: q.get('profile') ?? undefined,
      consistentRead: truthy(q.get('consistent_read')),
      fips: truthy(q.get('fips')),
      dualstack: truthy(q.get('dualstack')),
      revisionField,
    },
  };
}

/** A URL (MongoDB connection string, docstore URL) with the password of its user info replaced, for messages and logs. */
export function redactUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*):[^@/?#]*@/i, '$1:[redacted]@');
}
