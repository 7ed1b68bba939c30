/**
 * The controller with `docdb` storage (the official `mongodb` driver against the MongoDB wire-protocol
 * stand-in, SCRAM credentials in a mounted-Secret-like file): a TaskRun's provenance and image signature
 * become Chains' SignedDocuments, and a MongoDB that refuses the first writes (ShutdownInProgress) costs
 * retries only: one signature and one Rekor entry per artifact, one document per artifact.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  annotationsOf,
  refOf,
  setChainsConfig,
  startE2eEnvironment,
  startInstance,
  taskRunObject,
  unpushedImage,
  waitFor,
  type ControllerInstance,
  type E2eEnvironment,
} from '../support/controller-harness.js';
import { startMongoServer, type MongoTestServer } from '../support/mongo-server.js';
import type { PushedImage } from '../support/oci-image.js';

const password = 'e2e-docdb-test-only-pw';
let env: E2eEnvironment;
let mongo: MongoTestServer;
let instance: ControllerInstance;
let dir: string;

/** Storage never reads the image, so a made-up digest will do. */
const image = (name: string): PushedImage => unpushedImage('docdb-e2e', name);

beforeAll(async () => {
  [env, mongo] = await Promise.all([startE2eEnvironment({ redis: false }), startMongoServer({ users: { chains: password } })]);
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-docdb-e2e-'));
  await writeFile(path.join(dir, 'mongo-server-url'), `mongodb://chains:${password}@127.0.0.1:${mongo.port}/?serverSelectionTimeoutMS=2000\n`);
  setChainsConfig(env, {
    ...env.configData,
    'artifacts.taskrun.storage': 'tekton,docdb',
    'artifacts.oci.storage': 'docdb',
    'storage.docdb.url': 'mongo://chains/signed?id_field=Name',
    'storage.docdb.mongo-server-url-path': path.join(dir, 'mongo-server-url'),
  });
  instance = await startInstance(env, { memoryQueue: true });
}, 60_000);

afterAll(async () => {
  await instance?.stop();
  await Promise.all([env?.stop(), mongo?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('controller with docdb storage', () => {
  it('MongoDB refusing the first writes: retried, then one document per artifact; signed and logged once', async () => {
    const img = image('app');
    const rekorBefore = env.sigstore.rekorEntryCount();
    mongo.failWith({ code: 91, codeName: 'ShutdownInProgress', errmsg: 'the server is shutting down' }, 2);
    const created = env.kube.create(taskRunObject('docdb-tr', { image: img }));
    const ref = refOf(created);
    const uid = String(created.metadata?.['uid']);
    await waitFor(() => annotationsOf(env.kube, ref)['chains.tekton.dev/signed'] !== undefined, 30_000, 'docdb-tr signed');
    expect(annotationsOf(env.kube, ref)['chains.tekton.dev/signed']).toBe('true');
    const docs = mongo.collection('chains.signed');
    expect([...docs.keys()].sort()).toEqual([img.hex.slice(0, 12), `taskrun-${uid}`].sort());
    for (const [key, doc] of docs) {
      expect(Object.keys(doc).sort()).toEqual(['Cert', 'Chain', 'Object', 'Signature', 'Signed', '_id']);
      // tekton storage holds the provenance too: the same signature value in both stores.
      if (key.startsWith('taskrun-')) expect(doc['Signature']).toBe(annotationsOf(env.kube, ref)[`chains.tekton.dev/signature-${key}`]);
    }
    expect(env.sigstore.rekorEntryCount() - rekorBefore).toBe(2);
    expect(mongo.commands.filter((c) => c.name === 'update').length).toBeGreaterThanOrEqual(4);
  });
});
