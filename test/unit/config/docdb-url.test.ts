import { describe, expect, it } from 'vitest';
import { parseConfig, parseDocdbUrl, redactUrlPassword } from '../../../src/config/index.js';
import { isProvenantError } from '../../../src/errors.js';

function problems(data: Record<string, string>): Array<{ key: string; value?: string }> {
  try {
    parseConfig(data);
  } catch (err) {
    if (isProvenantError(err, 'CONFIG_INVALID')) return err.context['problems'] as Array<{ key: string; value?: string }>;
    throw err;
  }
  return [];
}

describe('storage.docdb.url (go-cloud docstore URLs)', () => {
  it('mongo://<db>/<collection>?id_field=Name, in any case of Name (go-cloud matches the struct field case-insensitively)', () => {
    expect(parseDocdbUrl('mongo://chains/signed?id_field=Name')).toEqual({
      ok: true,
      ref: { scheme: 'mongo', database: 'chains', collection: 'signed', idField: 'Name', revisionField: undefined },
    });
    expect(parseDocdbUrl('mongo://chains/signed?id_field=name&revision_field=Rev')).toMatchObject({ ok: true, ref: { idField: 'name', revisionField: 'Rev' } });
  });

  it('dynamodb://<table>?partition_key=Name with the AWS parameters go-cloud reads', () => {
    expect(parseDocdbUrl('dynamodb://chains?partition_key=Name&region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A8000&consistent_read=true')).toEqual({
      ok: true,
      ref: {
        scheme: 'dynamodb',
        table: 'chains',
        partitionKey: 'Name',
        region: 'eu-west-1',
        endpoint: 'http://127.0.0.1:8000',
        profile: undefined,
        consistentRead: true,
        fips: false,
        dualstack: false,
        revisionField: undefined,
      },
    });
  });

  it("firestore://projects/<p>/databases/<d>/documents/<collection>?name_field=name (Chains' documented example)", () => {
    expect(parseDocdbUrl('firestore://projects/p/databases/(default)/documents/c?name_field=name')).toEqual({
      ok: true,
      ref: { scheme: 'firestore', database: 'projects/p/databases/(default)', collection: 'projects/p/databases/(default)/documents/c', nameField: 'name', revisionField: undefined },
    });
    expect(parseDocdbUrl('firestore://projects/p/databases/db2/documents/a/b/c?name_field=Name')).toMatchObject({ ok: true, ref: { collection: 'projects/p/databases/db2/documents/a/b/c' } });
  });

  it.each([
    ['firestore://projects/p/databases/(default)/documents/c', 'name_field'],
    ['firestore://projects/p/databases/(default)/documents/c?name_field=id', 'name_field'],
    ['firestore://projects/p/documents/c?name_field=name', 'firestore://projects/<project>'],
    ['firestore://projects/p/databases/(default)/documents/a/b?name_field=name', 'firestore://projects/<project>'],
    ['firestore://projects/p/databases/(default)/documents/c?name_field=name&x=1', 'invalid query parameter'],
    ['mem://collection/_id', 'mem'],
    ['s3://bucket', 'scheme'],
    ['mongo://chains/signed', 'id_field'],
    ['mongo://chains/signed?id_field=_id', 'id_field'],
    ['mongo://chains?id_field=Name', 'collection'],
    ['mongo://chains/signed?id_field=Name&lowercase=true', 'lowercase'],
    ['mongo://chains/signed?id_field=Name&revision_field=Signature', 'overwrite'],
    ['mongo://user:pw@chains/signed?id_field=Name', 'credentials'],
    ['dynamodb://t?partition_key=name', 'partition_key'],
    ['dynamodb://t?partition_key=Name&sort_key=Signature', 'sort_key'],
    ['dynamodb://t/path?partition_key=Name', 'path'],
    ['dynamodb://t?partition_key=Name&role=arn:aws:iam::1:role/x', 'role'],
    ['dynamodb://t?partition_key=Name&endpoint=ftp://x', 'endpoint'],
    ['chains', 'docstore URL'],
  ])('%s is refused (%s)', (url, why) => {
    const parsed = parseDocdbUrl(url);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toContain(why);
  });

  it('parseConfig reports docdb problems with the others, at once; the url is required only when docdb is used', () => {
    expect(problems({ 'storage.docdb.url': 'mongo://chains/signed?id_field=Name' })).toEqual([]);
    const found = problems({
      'artifacts.taskrun.storage': 'docdb',
      'artifacts.oci.storage': 'gcs',
      'storage.docdb.mongo-server-url': 'postgres://x',
    });
    expect(found.map((p) => p.key).sort()).toEqual(['storage.docdb.mongo-server-url', 'storage.docdb.url', 'storage.gcs.bucket']);
    expect(problems({ 'artifacts.taskrun.storage': 'docdb', 'storage.docdb.url': 'mem://c/_id' }).map((p) => p.key)).toEqual(['storage.docdb.url']);
  });

  it('Chains keys are acted on now (no "not acted on" warning); passwords in connection strings are redacted in problems', () => {
    const { config, warnings } = parseConfig({
      'artifacts.taskrun.storage': 'tekton,docdb',
      'storage.docdb.url': 'mongo://chains/signed?id_field=Name',
      'storage.docdb.mongo-server-url': 'mongodb://chains:hunter2@db:27017/chains',
      'storage.docdb.mongo-server-url-dir': '/mnt/mongo',
      'storage.docdb.mongo-server-url-path': '/mnt/mongo/url',
    });
    expect(warnings).toEqual([]);
    expect(config.storage.docdb).toEqual({
      url: 'mongo://chains/signed?id_field=Name',
      mongoServerUrl: 'mongodb://chains:hunter2@db:27017/chains',
      mongoServerUrlDir: '/mnt/mongo',
      mongoServerUrlPath: '/mnt/mongo/url',
    });
    const bad = problems({ 'artifacts.taskrun.storage': 'docdb', 'storage.docdb.url': 'mongo://u:hunter2@chains/signed?id_field=Name' });
    expect(JSON.stringify(bad)).not.toContain('hunter2');
    expect(redactUrlPassword('mongodb+srv://chains:hunter2@cluster0.example.net/db?retryWrites=true')).toBe('mongodb+srv://chains:[redacted]@cluster0.example.net/db?retryWrites=true');
    expect(redactUrlPassword('mongodb://db:27017/x')).toBe('mongodb://db:27017/x');
  });
});
