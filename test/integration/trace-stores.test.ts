// `trace --gcs-bucket --archivista-url --docdb-url --grafeas-project`: attestations found only in one store each are verified and
// the verdict names the store. The registry is not used (`--attestations` on an empty directory), so the
// stores are the only evidence: image A's provenance is only in gcs, its material B's only in Archivista,
// B's material C's only in MongoDB (docdb); D's only attestation (in docdb) is signed by another key.
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signer } from '@sigstore/sign';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { createSilentLogger } from '../../src/observability/index.js';
import { createArchivistaStorage } from '../../src/storage/archivista-storage.js';
import { createDocdbStorage } from '../../src/storage/docdb-storage.js';
import { createGcsStorage } from '../../src/storage/gcs-storage.js';
import { createGrafeasStorage } from '../../src/storage/grafeas-storage.js';
import type { StorageBackend } from '../../src/storage/types.js';
import type { TraceGraph } from '../../src/verify/index.js';
import { startArchivistaServer, type ArchivistaTestServer } from '../support/archivista-server.js';
import { runCaptured } from '../support/cli.js';
import { startGcsServer, type GcsTestServer } from '../support/gcs-server.js';
import { startGrafeasServer, type GrafeasTestServer } from '../support/grafeas-server.js';
import { startMongoServer, type MongoTestServer } from '../support/mongo-server.js';

const repo = 'registry.invalid/team';
const hex = { a: 'a1'.repeat(32), b: 'b2'.repeat(32), c: 'c3'.repeat(32), d: 'd4'.repeat(32), e: 'e5'.repeat(32) };
const trusted = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });

let gcs: GcsTestServer;
let archivista: ArchivistaTestServer;
let mongo: MongoTestServer;
let grafeas: GrafeasTestServer;
let dir: string;

function signerOf(privateKey: KeyObject, publicKey: KeyObject): Signer {
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: pem, hint: '' } }) };
}

async function store(backend: StorageBackend, name: string, subject: string, material: string | undefined, key = trusted): Promise<void> {
  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v0.2',
      subject: [{ name: `${repo}/${name}`, digest: { sha256: subject } }],
      predicate: { builder: { id: 'https://tekton.dev/chains/v2' }, buildType: 'tekton.dev/v1/TaskRun', materials: material === undefined ? [] : [{ uri: `oci://${repo}/${material === hex.b ? 'b' : 'c'}`, digest: { sha256: material } }] },
    }),
  );
  const bundle = bundleToJSON(await new DSSEBundleBuilder({ signer: signerOf(key.privateKey, key.publicKey), witnesses: [] }).create({ data: statement, type: 'application/vnd.in-toto+json' }));
  const uid = `uid-${name}`;
  await backend.store({ run: { kind: 'TaskRun', namespace: 'ci', name, uid }, artifact: { type: 'provenance', shortKey: `taskrun-${uid}`, subjects: [{ name: `${repo}/${name}`, digest: { sha256: subject } }] }, payload: statement, bundle });
}

beforeAll(async () => {
  [gcs, archivista, mongo, grafeas] = await Promise.all([startGcsServer(), startArchivistaServer(), startMongoServer(), startGrafeasServer()]);
  gcs.createBucket('chains');
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-trace-stores-'));
  await mkdir(path.join(dir, 'offline'));
  await writeFile(path.join(dir, 'pub.pem'), trusted.publicKey.export({ type: 'spki', format: 'pem' }));
  const logger = createSilentLogger();
  await store(createGcsStorage({ bucket: 'chains', logger, gcsOptions: { apiEndpoint: gcs.url, projectId: 'p' } }), 'a', hex.a, hex.b);
  await store(createArchivistaStorage({ url: archivista.url, logger }), 'b', hex.b, hex.c);
  const docdb = createDocdbStorage({ config: parseConfig({ 'storage.docdb.url': 'mongo://chains/signed?id_field=Name', 'storage.docdb.mongo-server-url': mongo.url }).config.storage.docdb, logger });
  await store(docdb, 'c', hex.c, undefined);
  await store(docdb, 'd', hex.d, undefined, other);
  await docdb.close();
  await store(createGrafeasStorage({ config: { projectId: 'chains-p', noteId: 'chains', noteHint: 'h', server: grafeas.url }, logger }), 'e', hex.e, undefined);
});

afterAll(async () => {
  await Promise.all([gcs?.stop(), archivista?.stop(), mongo?.stop(), grafeas?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function trace(image: string): Promise<{ code: number; graph: TraceGraph; err: string }> {
  const r = await runCaptured(
    ['trace', `${repo}/${image}@sha256:${hex[image as keyof typeof hex]}`, '--attestations', path.join(dir, 'offline'), '--key', path.join(dir, 'pub.pem'), '--gcs-bucket', 'chains', '--archivista-url', archivista.url, '--docdb-url', 'mongo://chains/signed?id_field=Name', '-o', 'json'],
    { env: { HOME: '/nonexistent', STORAGE_EMULATOR_HOST: gcs.url, MONGO_SERVER_URL: mongo.url }, cwd: dir },
  );
  return { code: r.code, graph: (r.out === '' ? { nodes: [] } : JSON.parse(r.out)) as TraceGraph, err: r.err };
}

describe('trace reads the gcs, archivista, docdb and grafeas stores', () => {
  it('verifies a chain whose links are each stored in one store only, and names the store per link', async () => {
    const { code, graph, err } = await trace('a');
    expect(code, err).toBe(0);
    const byRef = Object.fromEntries(graph.nodes.map((n) => [n.ref, n]));
    expect([byRef[`${repo}/a@sha256:${hex.a}`], byRef[`${repo}/b@sha256:${hex.b}`], byRef[`${repo}/c@sha256:${hex.c}`]].map((n) => [n?.verdict, n?.source])).toEqual([
      ['verified', 'gcs'],
      ['verified', 'archivista'],
      ['verified', 'docdb'],
    ]);
    expect(graph.edges.map((e) => [e.relation, e.to])).toEqual([
      ['material', `image:${repo}/b@sha256:${hex.b}`],
      ['material', `image:${repo}/c@sha256:${hex.c}`],
    ]);
  });

  it('an attestation in docdb signed by another key is not accepted (source docdb)', async () => {
    const { code, graph } = await trace('d');
    expect(code).toBe(1);
    const root = graph.nodes.find((n) => n.id === graph.root);
    expect([root?.verdict, root?.source]).toEqual(['invalid-signature', 'docdb']);
  });

  it('text output shows the store as the evidence source; --help lists the store flags', async () => {
    const r = await runCaptured(
      ['trace', `${repo}/c@sha256:${hex.c}`, '--attestations', path.join(dir, 'offline'), '--key', path.join(dir, 'pub.pem'), '--docdb-url', 'mongo://chains/signed?id_field=Name'],
      { env: { HOME: '/nonexistent', MONGO_SERVER_URL: mongo.url }, cwd: dir },
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('[docdb]');
    const help = await runCaptured(['trace', '--help']);
    for (const flag of ['--gcs-bucket', '--archivista-url', '--docdb-url']) expect(help.out).toContain(flag);
    const bad = await runCaptured(['trace', `${repo}/c@sha256:${hex.c}`, '--key', path.join(dir, 'pub.pem'), '--docdb-url', 'mem://x/y']);
    expect(bad.code).toBe(2);
  });

  it('grafeas (the fourth store, one entry in the table): an attestation only in Grafeas occurrences is verified [grafeas]', async () => {
    const r = await runCaptured(
      ['trace', `${repo}/e@sha256:${hex.e}`, '--attestations', path.join(dir, 'offline'), '--key', path.join(dir, 'pub.pem'), '--grafeas-project', 'chains-p', '--grafeas-note', 'chains', '--grafeas-server', grafeas.url, '-o', 'json'],
      { env: { HOME: '/nonexistent' }, cwd: dir },
    );
    const graph = JSON.parse(r.out) as TraceGraph;
    const root = graph.nodes.find((n) => n.id === graph.root);
    expect([root?.verdict, root?.source, root?.reason]).toEqual(['verified', 'grafeas', undefined]);
    expect(r.code, r.err).toBe(0);
    const noNote = await runCaptured(['trace', `${repo}/e@sha256:${hex.e}`, '--key', path.join(dir, 'pub.pem'), '--grafeas-project', 'chains-p']);
    expect(noNote.code).toBe(2);
  });

  it('a store that does not answer fails the trace with its code (transient: exit 1)', async () => {
    const r = await runCaptured(
      ['trace', `${repo}/c@sha256:${hex.c}`, '--attestations', path.join(dir, 'offline'), '--key', path.join(dir, 'pub.pem'), '--docdb-url', 'mongo://chains/signed?id_field=Name'],
      { env: { HOME: '/nonexistent', MONGO_SERVER_URL: 'mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200' }, cwd: dir },
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain('DOCDB_UNAVAILABLE');
  });
});
