/**
 * What `provenant verify` requires of a verified attestation beyond a good signature: the builder,
 * the predicate type, the image it is about, a transparency log entry. Pure: a function of the
 * already verified artifact and the policy, so every rule is unit-tested without keys or services.
 */
import type { VerifiedArtifact } from './verify-bundle.js';

export interface AttestationPolicy {
  /** Expected `predicate.builder.id` (SLSA v0.2) or `predicate.runDetails.builder.id` (SLSA v1). */
  readonly builderId?: string | undefined;
  /** The statement's `predicateType` must be exactly this URI. */
  readonly predicateType?: string | undefined;
  /** `sha256:<hex>`: the image digest must be among the statement's subjects (`verify --image`). */
  readonly imageDigest?: string | undefined;
  /** A transparency log entry must have been verified with the bundle. */
  readonly requireTlog?: boolean | undefined;
}

export type PolicyReasonCode =
  | 'POLICY_NOT_A_STATEMENT'
  | 'POLICY_BUILDER_MISMATCH'
  | 'POLICY_PREDICATE_TYPE_MISMATCH'
  | 'POLICY_SUBJECT_MISMATCH'
  | 'POLICY_TLOG_MISSING';

export interface PolicyReason {
  readonly code: PolicyReasonCode;
  readonly message: string;
}

export interface PolicyResult {
  readonly ok: boolean;
  readonly reasons: readonly PolicyReason[];
}

function objectAt(value: unknown, ...path: string[]): Record<string, unknown> | undefined {
  let current: unknown = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'object' && current !== null && !Array.isArray(current) ? (current as Record<string, unknown>) : undefined;
}

/** The builder id of a SLSA v0.2 (`predicate.builder.id`) or v1 (`predicate.runDetails.builder.id`) statement. */
export function builderIdOf(statement: unknown): string | undefined {
  const v1 = objectAt(statement, 'predicate', 'runDetails', 'builder')?.['id'];
  if (typeof v1 === 'string') return v1;
  const v02 = objectAt(statement, 'predicate', 'builder')?.['id'];
  return typeof v02 === 'string' ? v02 : undefined;
}

function normaliseDigest(digest: string): { alg: string; hex: string } {
  const colon = digest.indexOf(':');
  return colon < 0 ? { alg: 'sha256', hex: digest.toLowerCase() } : { alg: digest.slice(0, colon).toLowerCase(), hex: digest.slice(colon + 1).toLowerCase() };
}

/** Checks a verified artifact against the policy; every failed rule is reported, not just the first. */
export function evaluatePolicy(verified: VerifiedArtifact, policy: AttestationPolicy): PolicyResult {
  const reasons: PolicyReason[] = [];
  const needsStatement = policy.builderId !== undefined || policy.predicateType !== undefined || policy.imageDigest !== undefined;
  if (needsStatement && verified.statement === undefined) {
    reasons.push({ code: 'POLICY_NOT_A_STATEMENT', message: 'the signed payload is not an in-toto statement' });
  } else {
    if (policy.predicateType !== undefined && verified.predicateType !== policy.predicateType) {
      reasons.push({
        code: 'POLICY_PREDICATE_TYPE_MISMATCH',
        message: `predicate type is ${verified.predicateType ?? '(none)'}, expected ${policy.predicateType}`,
      });
    }
    if (policy.builderId !== undefined) {
      const actual = builderIdOf(verified.statement);
      if (actual !== policy.builderId) {
        reasons.push({ code: 'POLICY_BUILDER_MISMATCH', message: `builder id is ${actual ?? '(none)'}, expected ${policy.builderId}` });
      }
    }
    if (policy.imageDigest !== undefined) {
      const want = normaliseDigest(policy.imageDigest);
      const found = verified.subjects.some((s) => s.digest[want.alg]?.toLowerCase() === want.hex);
      if (!found) {
        reasons.push({ code: 'POLICY_SUBJECT_MISMATCH', message: `${policy.imageDigest} is not a subject of the statement` });
      }
    }
  }
  if (policy.requireTlog === true && verified.tlog === undefined) {
    reasons.push({ code: 'POLICY_TLOG_MISSING', message: 'no verified transparency log entry' });
  }
  return { ok: reasons.length === 0, reasons };
}
