import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { ProvenantError, limitErrorCodes } from '../../../src/errors.js';
import { asn1Depth, checkJsonShape, limits, readBodyBounded, violationError, type JsonShapeLimits } from '../../../src/limits.js';
import { parseRun } from '../../../src/tekton/index.js';
import { checkCertificateLimits } from '../../../src/verify/bundle-limits.js';
import { createRekorReader } from '../../../src/transparency/index.js';
import { fetchRekorEntry } from '../../../src/verify/inspect-sources.js';
import { describeBundle, verifyBundle } from '../../../src/verify/index.js';
import { runCaptured } from '../../support/cli.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'fuzz');
const small: JsonShapeLimits = { maxDepth: 4, maxKeys: 3, maxItems: 3, maxStringLength: 5, maxNodes: 20, maxBytes: 200 };
const fail = violationError('input', 'INPUT_TOO_LARGE', 'doc');
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof ProvenantError ? err.code : 'untyped';
  }
};
const nested = (depth: number, leaf = '1'): string => `${'{"x":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;

describe('checkJsonShape', () => {
  it('accepts what is within every limit', () => {
    expect(() => checkJsonShape({ a: [1, 'abc', null], b: { c: true } }, small, fail)).not.toThrow();
  });

  it.each([
    ['depth', { a: { b: { c: { d: {} } } } }, 'nesting depth'],
    ['keys', { a: 1, b: 2, c: 3, d: 4 }, 'object keys'],
    ['items', [1, 2, 3, 4], 'array items'],
    ['string length', { a: 'abcdef' }, 'string length'],
    ['nodes', [[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]], 'array items'],
  ])('refuses %s with the caller’s code and the limit in the context', (_, doc, limit) => {
    let err: unknown;
    try {
      checkJsonShape(doc, small, fail);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: 'input', code: 'INPUT_TOO_LARGE', context: { limit } });
  });

  it('walks 200,000 levels without recursion and names the path', () => {
    const deep = JSON.parse(nested(200_000)) as unknown;
    let err: ProvenantError | undefined;
    try {
      checkJsonShape(deep, limits.run, fail);
    } catch (e) {
      err = e as ProvenantError;
    }
    expect(err?.context).toMatchObject({ limit: 'nesting depth', max: limits.run.maxDepth });
    expect(String(err?.context['path'])).toMatch(/^\$\.x\.x/);
  });
});

describe('asn1Depth', () => {
  it('measures nesting and treats malformed lengths as too deep', () => {
    // SEQUENCE { SEQUENCE { INTEGER 1 } }
    expect(asn1Depth(Uint8Array.from([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x01]), 32)).toBe(2);
    expect(asn1Depth(Uint8Array.from([0x30, 0x10, 0x02]), 32)).toBe(Infinity);
  });

  it('a certificate nested past the ASN.1 limit is VERIFY_CERTIFICATE_INVALID before any parser sees it', () => {
    const depth = 100;
    let inner: number[] = [0x05, 0x00];
    for (let i = 0; i < depth; i++) {
      const len = inner.length;
      const header = len < 128 ? [0x30, len] : len < 256 ? [0x30, 0x81, len] : len < 65536 ? [0x30, 0x82, len >> 8, len & 0xff] : [0x30, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
      inner = [...header, ...inner];
    }
    const rawBytes = Buffer.from(inner).toString('base64');
    expect(codeOf(() => checkCertificateLimits(rawBytes, '$.cert'))).toBe('VERIFY_CERTIFICATE_INVALID');
    const bundle = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { certificate: { rawBytes }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
      dsseEnvelope: { payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'c2ln', keyid: '' }] },
    };
    expect(codeOf(() => verifyBundle(bundle, { identity: { san: 'x', issuer: 'y' }, trustedRoot: {} }))).toBe('VERIFY_CERTIFICATE_INVALID');
    expect(codeOf(() => describeBundle(bundle as never))).toBe('VERIFY_CERTIFICATE_INVALID');
  });
});

describe('readBodyBounded', () => {
  const errors = {
    tooLarge: (n: number) => new ProvenantError('permanent', 'OCI_BLOB_INVALID', `${n}`),
    failed: () => new ProvenantError('transient', 'OCI_UNAVAILABLE', 'read failed'),
  };

  it('hashes while reading and refuses a declared or actual size over the cap', async () => {
    const ok = await readBodyBounded(new Response('hello'), 5, errors);
    expect(Buffer.from(ok.bytes).toString()).toBe('hello');
    expect(ok.digest).toBe('sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    await expect(readBodyBounded(new Response('hello!'), 5, errors)).rejects.toMatchObject({ code: 'OCI_BLOB_INVALID' });
    await expect(readBodyBounded(new Response('x', { headers: { 'content-length': '999999' } }), 5, errors)).rejects.toMatchObject({ code: 'OCI_BLOB_INVALID' });
  });

  it('stops an endless stream at the cap and types a broken one', async () => {
    let pulls = 0;
    const endless = new ReadableStream<Uint8Array>({ pull: (c) => void (pulls++, c.enqueue(new Uint8Array(1024))) });
    await expect(readBodyBounded(new Response(endless), 10_000, errors)).rejects.toMatchObject({ code: 'OCI_BLOB_INVALID' });
    expect(pulls).toBeLessThan(20);
    const broken = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new TypeError('terminated')) });
    await expect(readBodyBounded(new Response(broken), 10_000, errors)).rejects.toMatchObject({ code: 'OCI_UNAVAILABLE' });
  });
});

describe('Rekor answers', () => {
  const endless = (): Response =>
    new Response(new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(64 * 1024).fill(0x20)) }), { status: 200 });
  const deep = (): Response => new Response(`{"a":${nested(10_000)}}`, { status: 200 });
  const root = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };

  it('the transparency reader refuses endless and deeply nested answers with TLOG_RESPONSE_INVALID', async () => {
    for (const answer of [endless, deep]) {
      const reader = createRekorReader({ baseUrl: 'http://rekor.invalid', trustedRoot: root, fetch: (async () => answer()) as typeof fetch });
      await expect(reader.getEntry(1)).rejects.toMatchObject({ code: 'TLOG_RESPONSE_INVALID' });
    }
  });

  it('fetchRekorEntry (verify --taskrun) refuses them with REKOR_ENTRY_INVALID', async () => {
    for (const answer of [endless, deep]) {
      await expect(fetchRekorEntry('http://rekor.invalid/api/v1/log/entries?logIndex=1', (async () => answer()) as typeof fetch)).rejects.toMatchObject({
        code: 'REKOR_ENTRY_INVALID',
      });
    }
  });
});

describe('runs and ConfigMaps', () => {
  it('parseRun refuses a run over the limits with RUN_MALFORMED (kind input: signed=failed, never retried)', () => {
    const run = JSON.parse(readFileSync(path.join(fixtures, 'taskrun-v1.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    const deep = JSON.parse(JSON.stringify(run)) as typeof run;
    (deep['status']!['provenance'] as Record<string, unknown>) = { featureFlags: JSON.parse(nested(5000)) as unknown };
    expect(() => parseRun(deep, { requireMetadata: false })).toThrow(expect.objectContaining({ kind: 'input', code: 'RUN_MALFORMED' }));
    const wide = JSON.parse(JSON.stringify(run)) as typeof run;
    wide['metadata']!['annotations'] = { big: 'a'.repeat(limits.run.maxBytes) };
    expect(() => parseRun(wide, { requireMetadata: false })).toThrow(expect.objectContaining({ code: 'RUN_MALFORMED' }));
    expect(() => parseRun(run, { requireMetadata: false })).not.toThrow();
  });

  it('parseConfig refuses an oversized chains-config with CONFIG_INVALID (kind config)', () => {
    const many = Object.fromEntries(Array.from({ length: limits.configMap.maxKeys + 1 }, (_, i) => [`x.${i}`, 'v']));
    expect(() => parseConfig(many)).toThrow(expect.objectContaining({ kind: 'config', code: 'CONFIG_INVALID' }));
    expect(() => parseConfig({ 'builder.id': 'a'.repeat(limits.configMap.maxValueLength + 1) })).toThrow(
      expect.objectContaining({ kind: 'config', code: 'CONFIG_INVALID' }),
    );
  });

  it('every limit code is listed once in errors.ts', () => {
    expect(new Set(limitErrorCodes).size).toBe(limitErrorCodes.length);
  });
});

describe('issue 17: provenant provenance on a TaskRun nested 5,000 deep in status.provenance.featureFlags', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'provenant-limits-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 2 with RUN_MALFORMED (JSON and YAML)', async () => {
    const text = readFileSync(path.join(fixtures, 'taskrun-v1.json'), 'utf8');
    const run = JSON.parse(text) as { status: Record<string, unknown> };
    run.status['provenance'] = { featureFlags: '@DEEP@' };
    const file = path.join(dir, 'deep.json');
    await writeFile(file, JSON.stringify(run).replace('"@DEEP@"', nested(5000)));
    const r = await runCaptured(['provenance', '--format', 'slsa/v2alpha4', file], { env: { PROVENANT_LOG_LEVEL: 'silent' } });
    expect(r.code).toBe(2);
    expect(r.err).toContain('RUN_MALFORMED');
    expect(r.out).toBe('');
    // YAML flow style nested as deep: the YAML parser's own limit or ours, typed either way.
    const yamlFile = path.join(dir, 'deep.yaml');
    await writeFile(yamlFile, `kind: TaskRun\napiVersion: tekton.dev/v1\nmetadata: {name: x}\nstatus:\n  provenance:\n    featureFlags: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    const y = await runCaptured(['provenance', '--format', 'slsa/v2alpha4', yamlFile], { env: { PROVENANT_LOG_LEVEL: 'silent' } });
    expect(y.code).toBe(2);
    expect(y.err).toMatch(/RUN_MALFORMED|INPUT_UNPARSABLE/);
  });

  it('verify --bundle on a bundle nested 100,000 deep exits 2 with VERIFY_BUNDLE_INVALID', async () => {
    const file = path.join(dir, 'deep-bundle.json');
    await writeFile(file, `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":${nested(100_000)}}`);
    const keyFile = path.join(dir, 'k.pub');
    const { generateKeyPairSync } = await import('node:crypto');
    await writeFile(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString());
    const r = await runCaptured(['verify', '--bundle', file, '--key', keyFile], { env: { PROVENANT_LOG_LEVEL: 'silent' } });
    expect(r.code).toBe(2);
    expect(r.err).toContain('VERIFY_BUNDLE_INVALID');
  });
});
