import { describe, expect, it } from 'vitest';
import type { VerifiedArtifact } from '../../../src/verify/index.js';
import { builderIdOf, evaluatePolicy } from '../../../src/verify/policy.js';

const hex = 'ab'.repeat(32);

function verified(statement: Record<string, unknown> | undefined, tlog = false): VerifiedArtifact {
  const subjects = Array.isArray(statement?.['subject']) ? (statement['subject'] as VerifiedArtifact['subjects']) : [];
  return {
    payload: Buffer.from(JSON.stringify(statement ?? 'x')),
    payloadType: statement === undefined ? undefined : 'application/vnd.in-toto+json',
    ...(statement === undefined ? {} : { statement }),
    subjects,
    predicateType: typeof statement?.['predicateType'] === 'string' ? statement['predicateType'] : undefined,
    signer: { publicKey: 'pem' },
    ...(tlog ? { tlog: { logIndex: '7', integratedTime: '1700000000', logId: 'aa' } } : {}),
  };
}

const v02 = {
  _type: 'https://in-toto.io/Statement/v0.1',
  predicateType: 'https://slsa.dev/provenance/v0.2',
  subject: [{ name: 'registry.example/app', digest: { sha256: hex } }],
  predicate: { builder: { id: 'https://tekton.dev/chains/v2' } },
};
const v1 = {
  _type: 'https://in-toto.io/Statement/v1',
  predicateType: 'https://slsa.dev/provenance/v1',
  subject: [{ name: 'registry.example/app', digest: { sha256: hex } }],
  predicate: { buildDefinition: {}, runDetails: { builder: { id: 'https://tekton.dev/chains/v2' } } },
};

describe('evaluatePolicy', () => {
  it('an empty policy accepts anything verified', () => {
    expect(evaluatePolicy(verified(undefined), {})).toEqual({ ok: true, reasons: [] });
  });

  it('builder id from SLSA v0.2 and v1 statements', () => {
    expect(builderIdOf(v02)).toBe('https://tekton.dev/chains/v2');
    expect(builderIdOf(v1)).toBe('https://tekton.dev/chains/v2');
    expect(builderIdOf({ predicate: {} })).toBeUndefined();
    expect(evaluatePolicy(verified(v02), { builderId: 'https://tekton.dev/chains/v2' }).ok).toBe(true);
    expect(evaluatePolicy(verified(v1), { builderId: 'https://tekton.dev/chains/v2' }).ok).toBe(true);
    expect(evaluatePolicy(verified(v1), { builderId: 'https://other' }).reasons.map((r) => r.code)).toEqual(['POLICY_BUILDER_MISMATCH']);
    expect(evaluatePolicy(verified({ ...v02, predicate: {} }), { builderId: 'x' }).reasons.map((r) => r.code)).toEqual(['POLICY_BUILDER_MISMATCH']);
  });

  it('predicate type must match exactly', () => {
    expect(evaluatePolicy(verified(v02), { predicateType: 'https://slsa.dev/provenance/v0.2' }).ok).toBe(true);
    expect(evaluatePolicy(verified(v02), { predicateType: 'https://slsa.dev/provenance/v1' }).reasons.map((r) => r.code)).toEqual(['POLICY_PREDICATE_TYPE_MISMATCH']);
  });

  it('the image digest must be a subject (with or without the algorithm prefix, any case)', () => {
    expect(evaluatePolicy(verified(v02), { imageDigest: `sha256:${hex}` }).ok).toBe(true);
    expect(evaluatePolicy(verified(v02), { imageDigest: `SHA256:${hex.toUpperCase()}` }).ok).toBe(true);
    expect(evaluatePolicy(verified(v02), { imageDigest: hex }).ok).toBe(true);
    expect(evaluatePolicy(verified(v02), { imageDigest: `sha256:${'cd'.repeat(32)}` }).reasons.map((r) => r.code)).toEqual(['POLICY_SUBJECT_MISMATCH']);
    expect(evaluatePolicy(verified(v02), { imageDigest: `sha512:${hex}` }).reasons.map((r) => r.code)).toEqual(['POLICY_SUBJECT_MISMATCH']);
  });

  it('statement rules on a non-statement payload give POLICY_NOT_A_STATEMENT', () => {
    expect(evaluatePolicy(verified(undefined), { predicateType: 'x' }).reasons.map((r) => r.code)).toEqual(['POLICY_NOT_A_STATEMENT']);
  });

  it('requireTlog needs a verified tlog entry', () => {
    expect(evaluatePolicy(verified(v02, true), { requireTlog: true }).ok).toBe(true);
    expect(evaluatePolicy(verified(v02), { requireTlog: true }).reasons.map((r) => r.code)).toEqual(['POLICY_TLOG_MISSING']);
  });

  it('reports every failed rule', () => {
    const r = evaluatePolicy(verified(v02), { builderId: 'b', predicateType: 'p', imageDigest: 'sha256:00', requireTlog: true });
    expect(r.ok).toBe(false);
    expect(r.reasons.map((x) => x.code).sort()).toEqual(['POLICY_BUILDER_MISMATCH', 'POLICY_PREDICATE_TYPE_MISMATCH', 'POLICY_SUBJECT_MISMATCH', 'POLICY_TLOG_MISSING']);
  });
});
