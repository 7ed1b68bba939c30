import { describe, it, expect } from 'vitest';
import type { SerializedBundle } from '@sigstore/bundle';
import type { Witness } from '@sigstore/sign';
import {
  classifyRekorError,
  createRekorWitness,
  shouldUpload,
  tlogEntryOf,
  transparencyAnnotationValue,
} from '../../../src/transparency/index.js';
import { createCapturingLogger } from '../../../src/observability/logger.js';
import { ProvenantError } from '../../../src/errors.js';

const upload = 'chains.tekton.dev/transparency-upload';

describe('shouldUpload', () => {
  it('true uploads every run, false none', () => {
    expect(shouldUpload({ transparency: { mode: 'true' } }, undefined)).toBe(true);
    expect(shouldUpload({ transparency: { mode: 'true' } }, { [upload]: 'false' })).toBe(true);
    expect(shouldUpload({ transparency: { mode: 'false' } }, { [upload]: 'true' })).toBe(false);
  });

  it('manual uploads only runs annotated transparency-upload: "true"', () => {
    const manual = { transparency: { mode: 'manual' as const } };
    expect(shouldUpload(manual, { [upload]: 'true' })).toBe(true);
    expect(shouldUpload(manual, { [upload]: 'True' })).toBe(false);
    expect(shouldUpload(manual, { [upload]: 'false' })).toBe(false);
    expect(shouldUpload(manual, { other: 'true' })).toBe(false);
    expect(shouldUpload(manual, {})).toBe(false);
    expect(shouldUpload(manual, undefined)).toBe(false);
  });
});

describe('transparencyAnnotationValue', () => {
  it('matches Chains: <url>/api/v1/log/entries?logIndex=<N>', () => {
    expect(transparencyAnnotationValue('https://rekor.sigstore.dev', 42)).toBe('https://rekor.sigstore.dev/api/v1/log/entries?logIndex=42');
    expect(transparencyAnnotationValue('https://rekor.example/', '7')).toBe('https://rekor.example/api/v1/log/entries?logIndex=7');
  });
});

describe('tlogEntryOf', () => {
  const base = {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    dsseEnvelope: { payload: '', payloadType: 'application/vnd.in-toto+json', signatures: [] },
  };
  it('reads index, time and hex log id of the first entry', () => {
    const bundle = {
      ...base,
      verificationMaterial: {
        publicKey: { hint: 'k' },
        tlogEntries: [
          {
            logIndex: '123',
            logId: { keyId: Buffer.from('ab'.repeat(32), 'hex').toString('base64') },
            kindVersion: { kind: 'dsse', version: '0.0.1' },
            integratedTime: '1700000000',
            inclusionPromise: { signedEntryTimestamp: 'AA==' },
            inclusionProof: undefined,
            canonicalizedBody: 'e30=',
          },
        ],
        timestampVerificationData: undefined,
      },
    } as unknown as SerializedBundle;
    expect(tlogEntryOf(bundle)).toEqual({ logIndex: 123, integratedTime: 1700000000, logId: 'ab'.repeat(32) });
  });

  it('is undefined for a bundle never logged (empty or omitted list)', () => {
    expect(tlogEntryOf({ ...base, verificationMaterial: { publicKey: { hint: 'k' }, tlogEntries: [] } } as unknown as SerializedBundle)).toBeUndefined();
    expect(tlogEntryOf({ ...base, verificationMaterial: { publicKey: { hint: 'k' } } } as unknown as SerializedBundle)).toBeUndefined();
  });
});

/** What sigstore-js throws: InternalError{code, cause: HTTPError{statusCode}}. */
function sigstoreError(status: number | undefined, code = 'TLOG_CREATE_ENTRY_ERROR'): Error {
  const cause = status === undefined ? Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) : Object.assign(new Error(`(${status}) x`), { statusCode: status });
  return Object.assign(new Error('error creating tlog entry'), { code, cause });
}

describe('classifyRekorError', () => {
  it.each([500, 502, 503, 504, 408, 429])('HTTP %i → transient REKOR_UNAVAILABLE', (status) => {
    const err = classifyRekorError(sigstoreError(status), 'https://rekor.example');
    expect([err.kind, err.code]).toEqual(['transient', 'REKOR_UNAVAILABLE']);
  });
  it.each([400, 401, 403, 404, 413, 422])('HTTP %i → permanent REKOR_REJECTED', (status) => {
    const err = classifyRekorError(sigstoreError(status), 'https://rekor.example');
    expect([err.kind, err.code]).toEqual(['permanent', 'REKOR_REJECTED']);
  });
  it('network errors are transient', () => {
    expect(classifyRekorError(sigstoreError(undefined), 'u').code).toBe('REKOR_UNAVAILABLE');
  });
  it('a failed lookup of the existing entry after 409 is transient, even a 404', () => {
    const err = classifyRekorError(sigstoreError(404, 'TLOG_FETCH_ENTRY_ERROR'), 'u');
    expect([err.kind, err.code]).toEqual(['transient', 'REKOR_UNAVAILABLE']);
  });
  it('keeps an already classified error', () => {
    const original = new ProvenantError('config', 'CONFIG_INVALID', 'x');
    expect(classifyRekorError(original, 'u')).toBe(original);
  });
});

describe('createRekorWitness', () => {
  it('wraps a witness, classifying and logging its failure without secrets', async () => {
    const failing: Witness = { testify: async () => Promise.reject(sigstoreError(503)) };
    const { logger, lines } = createCapturingLogger();
    const witness = createRekorWitness({ url: 'https://rekor.example/', logger, witness: failing });
    const err: unknown = await witness.testify({ $case: 'dsseEnvelope', dsseEnvelope: { payload: Buffer.alloc(0), payloadType: '', signatures: [] } }, 'PEM').catch((e: unknown) => e);
    expect((err as ProvenantError).code).toBe('REKOR_UNAVAILABLE');
    expect((err as ProvenantError).context['rekor']).toBe('https://rekor.example');
    expect(lines.some((l) => (JSON.parse(l) as { code?: string }).code === 'REKOR_UNAVAILABLE')).toBe(true);
  });
});
