/**
 * `verify --require-tlog` proves inclusion, not only the promise: every transparency log entry of a
 * bundle must come with an RFC 6962 inclusion proof up to a checkpoint signed by a log in the trusted
 * root. An entry that carries only a SET (cosign's legacy `.att` annotation, older bundles) gets its
 * proof from the log the trusted root names for its log ID (`tlogs[].baseUrl`), and the bundle is
 * verified with it. Typed codes: TLOG_LOG_KEY_UNKNOWN, TLOG_INCLUSION_PROOF_INVALID,
 * TLOG_CHECKPOINT_INVALID, TLOG_ENTRY_NOT_FOUND, TLOG_UNAVAILABLE, ….
 */
import type { SerializedBundle } from '@sigstore/bundle';
import { ProvenantError, errorMessage, isProvenantError } from '../errors.js';

export interface TlogInclusionOptions {
  readonly fetch?: typeof globalThis.fetch;
}

/** The bundle with an inclusion proof on every tlog entry, each proof checked; throws ProvenantError otherwise. */
export async function proveTlogInclusion<B>(bundle: B, trustedRoot: unknown, options: TlogInclusionOptions = {}): Promise<B> {
  const material = (bundle as Partial<SerializedBundle> | null)?.verificationMaterial as Partial<SerializedBundle['verificationMaterial']> | undefined;
  const entries = material?.tlogEntries ?? [];
  if (entries.length === 0) return bundle;
  // Loaded only when a log entry is checked: the transparency room brings the signing SDK along, which
  // verify without --require-tlog never needs.
  const { checkTlogEntry, createRekorReader, evidenceFromBundleEntry, hashLeaf, tlogKeysOf } = await import('../transparency/index.js');
  const logs = tlogKeysOf(trustedRoot);
  const proven = [];
  for (const entry of entries) {
    const evidence = evidenceFromBundleEntry(entry);
    if (evidence.inclusionProof !== undefined) {
      // Rekor v2 entries have no SET; a v1 SET is checked again by @sigstore/verify.
      checkTlogEntry(evidence, logs, { requireSet: false });
      proven.push(entry);
      continue;
    }
    const log = logs.find((l) => l.logId === evidence.logId.toLowerCase());
    if (log === undefined) throw new ProvenantError('permanent', 'TLOG_LOG_KEY_UNKNOWN', `log ${evidence.logId} is not in the trusted root`);
    const reader = createRekorReader({ baseUrl: log.baseUrl, trustedRoot, ...(options.fetch === undefined ? {} : { fetch: options.fetch }) });
    const fetched = await reader.getEntry(hashLeaf(evidence.body).toString('hex'));
    proven.push(fetched.bundleEntry as unknown as (typeof entries)[number]);
  }
  return { ...bundle, verificationMaterial: { ...material, tlogEntries: proven } };
}

/**
 * For the verify command: each candidate's bundle with proven inclusion, or the candidate marked
 * rejected with the typed code (a bundle without any entry is left to verifyBundle: VERIFY_TLOG_MISSING).
 */
export async function withProvenTlogInclusion<C extends { readonly bundle: unknown; readonly rejected?: { readonly code: string; readonly message: string } | undefined }>(
  candidates: readonly C[],
  trustedRoot: unknown,
  options: TlogInclusionOptions = {},
): Promise<C[]> {
  return Promise.all(
    candidates.map(async (c) => {
      if (c.rejected !== undefined) return c;
      try {
        return { ...c, bundle: await proveTlogInclusion(c.bundle, trustedRoot, options) };
      } catch (err) {
        if (isProvenantError(err) && err.kind === 'input') throw err;
        return { ...c, rejected: { code: isProvenantError(err) ? err.code : 'TLOG_UNAVAILABLE', message: errorMessage(err) } };
      }
    }),
  );
}
