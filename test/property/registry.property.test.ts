// Property tests at the registry boundary, over real HTTP (the hostile registry stand-in in its
// ordinary mode): mutated `.att` manifests and consistently re-hashed (attacker-written) envelopes
// through `trace`, and mutated existing tags through the OCI storage's read-modify-write.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SerializedBundle } from '@sigstore/bundle';
import { isProvenantError } from '../../src/errors.js';
import { createSilentLogger } from '../../src/observability/logger.js';
import { createOciReader, createOciStorage, createRegistryClient, digestTag } from '../../src/storage/oci/index.js';
import { checkManifestDocument } from '../../src/storage/oci/bounded-read.js';
import { createManifestProbe, traceImage, type TraceGraph } from '../../src/verify/trace.js';
import { fuzzParameters, fuzzTimeout, jsonText, mutate, mutationOf } from '../support/fuzz.js';
import { startHostileRegistry, type HostileRegistry } from '../support/hostile-registry.js';
import { createTestKey, pushTestImage, signProvenance, testStatement, type PushedImage, type TestKey } from '../support/oci-image.js';

const logger = createSilentLogger();
let reg: HostileRegistry;
let key: TestKey;
let image: PushedImage;
let attTag: string;
let attDoc: Record<string, unknown>;
let envelope: Record<string, unknown>;
let payload: Uint8Array;
let bundle: SerializedBundle;

const storage = () => createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'dsse' }, logger, tagUpdate: { settleMs: 0 } });
const storeReq = (b: SerializedBundle, p: Uint8Array) => ({
  run: { kind: 'TaskRun' as const, namespace: 'ci', name: 'build', uid: image.hex.slice(0, 12) },
  artifact: { type: 'provenance' as const, shortKey: image.hex.slice(0, 12), subjects: [{ name: image.name, digest: { sha256: image.hex } }], predicateType: 'https://slsa.dev/provenance/v0.2' },
  payload: p,
  bundle: b,
});

beforeAll(async () => {
  reg = await startHostileRegistry();
  key = createTestKey();
  image = await pushTestImage({ host: reg.host, repository: 'fuzz/app' });
  payload = testStatement(image);
  bundle = await signProvenance(key, payload);
  await storage().store(storeReq(bundle, payload));
  attTag = digestTag(image.digest, 'att');
  const client = createRegistryClient({ registry: reg.host, insecure: true, logger });
  attDoc = (await client.getManifest(image.repository, attTag))!.json;
  const layer = (attDoc['layers'] as { digest: string }[])[0]!;
  envelope = JSON.parse(Buffer.from(await client.getBlob(image.repository, layer.digest)).toString('utf8')) as Record<string, unknown>;
});

afterAll(async () => {
  await reg?.close();
});

async function traced(): Promise<TraceGraph | string> {
  try {
    return await traceImage(image.ref, {
      reader: createOciReader({ config: { repository: undefined, insecure: true }, logger }),
      manifestExists: createManifestProbe({ insecure: true, logger }),
      policies: [{ key: key.publicKeyPem }],
      logger,
    });
  } catch (err) {
    if (isProvenantError(err)) return err.code;
    throw err;
  }
}

describe('registry: property tests over mutated manifests and envelopes', () => {
  it(
    'a mutated .att manifest: trace gives a graph or a typed error',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constant(null).chain(() => mutationOf(attDoc)), async ({ path, mutation }) => {
          reg.manifest(image.repository, attTag, mutate(attDoc, path, mutation));
          await traced();
        }),
        fuzzParameters(10),
      );
    },
    fuzzTimeout(60_000),
  );

  it(
    'an envelope rewritten by someone with push access (digest and size consistent) is verified only if it is the signed one',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constant(null).chain(() => mutationOf(envelope)), async ({ path, mutation }) => {
          const forged = mutate(envelope, path, mutation);
          const bytes = Buffer.from(jsonText(forged));
          const digest = reg.blob(image.repository, bytes);
          const layers = [{ ...(attDoc['layers'] as Record<string, unknown>[])[0], digest, size: bytes.length }];
          reg.manifest(image.repository, attTag, { ...attDoc, layers });
          const graph = await traced();
          if (typeof graph !== 'string' && graph.nodes[0]?.verdict === 'verified') {
            const f = forged as { payload?: unknown; payloadType?: unknown };
            expect(typeof f.payload === 'string' && Buffer.from(f.payload, 'base64').equals(Buffer.from(payload))).toBe(true);
            expect(f.payloadType).toBe('application/vnd.in-toto+json');
          }
        }),
        fuzzParameters(10),
      );
    },
    fuzzTimeout(60_000),
  );

  it(
    'fields the reader ignores (unknown manifest keys, manifest annotations) leave the trace unchanged',
    async () => {
      reg.manifest(image.repository, attTag, attDoc);
      const base = JSON.stringify(await traced());
      expect(base).toContain('"verdict":"verified"');
      const known = new Set(['layers', 'manifests', 'config', 'mediaType', 'schemaVersion', 'subject', 'artifactType']);
      await fc.assert(
        fc.asyncProperty(
          fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.has(k) && k !== '__proto__'),
          fc.jsonValue({ maxDepth: 3 }),
          fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), { maxKeys: 5 }),
          async (extraKey, extra, annotations) => {
            reg.manifest(image.repository, attTag, { ...attDoc, [extraKey]: extra, annotations });
            expect(JSON.stringify(await traced())).toBe(base);
          },
        ),
        fuzzParameters(10),
      );
      reg.manifest(image.repository, attTag, attDoc);
    },
    fuzzTimeout(60_000),
  );

  it(
    'read-modify-write over a mutated existing tag: a well-formed tag keeping what was there, or a typed error and no write',
    async () => {
      const other = testStatement(image, 7);
      const otherBundle = await signProvenance(key, other);
      await fc.assert(
        fc.asyncProperty(fc.constant(null).chain(() => mutationOf(attDoc)), async ({ path, mutation }) => {
          const existing = mutate(attDoc, path, mutation);
          reg.manifest(image.repository, attTag, existing);
          const before = reg.puts.length;
          let outcome: string;
          try {
            await storage().store(storeReq(otherBundle, other));
            outcome = 'ok';
          } catch (err) {
            if (!isProvenantError(err)) throw err;
            outcome = err.code;
          }
          const written = reg.puts.slice(before).filter((p) => p.path.endsWith(attTag));
          if (outcome !== 'ok') {
            expect(written).toEqual([]);
            return;
          }
          for (const w of written) {
            const doc = checkManifestDocument(JSON.parse(w.body.toString('utf8')), 'written tag');
            const digests = (doc['layers'] as { digest: string }[]).map((l) => l.digest);
            const kept = Array.isArray((existing as Record<string, unknown> | null)?.['layers'])
              ? ((existing as Record<string, unknown>)['layers'] as { digest: string }[]).map((l) => l.digest)
              : [];
            for (const d of kept) expect(digests).toContain(d);
          }
        }),
        fuzzParameters(8),
      );
    },
    fuzzTimeout(60_000),
  );
});
