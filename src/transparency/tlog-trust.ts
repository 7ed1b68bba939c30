/**
 * The transparency-log keys of a `trusted_root.json` (JSON form of the Sigstore TrustedRoot), and the
 * checks every log entry must pass against them, whatever its source (a Rekor v1 API response or a
 * Sigstore bundle): known log key, signed entry timestamp (SET), RFC 6962 inclusion proof up to a
 * checkpoint signed by that key, and the entry UUID. Pure: no I/O, no clock.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ProvenantError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import { checkpointSignedBy, parseSignedCheckpoint } from './checkpoint.js';
import { hashLeaf, rootFromInclusionProof } from './merkle.js';

export interface TlogKey {
  readonly baseUrl: string;
  /** hex log ID (SHA-256 of the SPKI for Rekor v1; the checkpoint key ID for v2). */
  readonly logId: string;
  readonly key: KeyObject;
  /** Seconds since the epoch; undefined = open. */
  readonly validFrom: number | undefined;
  readonly validUntil: number | undefined;
}

/** One log entry in a source-independent form. */
export interface TlogEntryEvidence {
  readonly body: Buffer;
  readonly integratedTime: number;
  readonly logIndex: number;
  /** hex */
  readonly logId: string;
  readonly signedEntryTimestamp?: Buffer | undefined;
  readonly inclusionProof?:
    | {
        readonly logIndex: bigint;
        readonly treeSize: bigint;
        readonly rootHash: Buffer;
        readonly hashes: readonly Buffer[];
        readonly checkpoint: string;
      }
    | undefined;
}

export interface TlogCheckOptions {
  /** Require a SET (Rekor v1 API responses always carry one; Rekor v2 entries never do). Default true. */
  readonly requireSet?: boolean;
  /** Require an inclusion proof with a checkpoint. Default true. */
  readonly requireInclusionProof?: boolean;
  /** The 64-hex UUID the entry must have (its leaf hash). */
  readonly uuid?: string;
}

export interface TlogCheckResult {
  readonly set: boolean;
  readonly inclusionProof: boolean;
  readonly checkpoint: boolean;
  readonly uuid: string;
  readonly log: TlogKey;
}

function fail(code: string, message: string, context: Record<string, unknown> = {}): ProvenantError {
  return new ProvenantError('permanent', code, message, { context });
}

function b64(value: unknown): Buffer | undefined {
  return typeof value === 'string' ? Buffer.from(value, 'base64') : undefined;
}

function seconds(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** The tlog keys of a trusted root (JSON object). Throws `input` TLOG_TRUSTED_ROOT_INVALID. */
export function tlogKeysOf(trustedRoot: unknown): TlogKey[] {
  const tlogs = (trustedRoot as { tlogs?: unknown } | null)?.tlogs;
  if (!Array.isArray(tlogs)) throw new ProvenantError('input', 'TLOG_TRUSTED_ROOT_INVALID', 'the trusted root has no tlogs list');
  return tlogs.map((t: unknown, i) => {
    const tlog = t as { baseUrl?: unknown; publicKey?: { rawBytes?: unknown; validFor?: { start?: unknown; end?: unknown } }; logId?: { keyId?: unknown } };
    const raw = b64(tlog.publicKey?.rawBytes);
    const id = b64(tlog.logId?.keyId);
    if (raw === undefined || id === undefined || typeof tlog.baseUrl !== 'string') {
      throw new ProvenantError('input', 'TLOG_TRUSTED_ROOT_INVALID', `trusted root tlogs[${i}] lacks baseUrl, publicKey.rawBytes or logId.keyId`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: raw, format: 'der', type: 'spki' });
    } catch (cause) {
      throw new ProvenantError('input', 'TLOG_TRUSTED_ROOT_INVALID', `trusted root tlogs[${i}] public key is not SPKI DER`, { cause });
    }
    return {
      baseUrl: tlog.baseUrl,
      logId: id.toString('hex'),
      key,
      validFrom: seconds(tlog.publicKey?.validFor?.start),
      validUntil: seconds(tlog.publicKey?.validFor?.end),
    };
  });
}

function verifySignature(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return cryptoVerify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Verifies one entry against the trusted logs. Throws `permanent` ProvenantErrors:
 * TLOG_LOG_KEY_UNKNOWN, TLOG_SET_MISSING, TLOG_SET_INVALID, TLOG_INCLUSION_PROOF_MISSING,
 * TLOG_INCLUSION_PROOF_INVALID, TLOG_CHECKPOINT_INVALID, TLOG_ENTRY_MISMATCH.
 */
export function checkTlogEntry(entry: TlogEntryEvidence, logs: readonly TlogKey[], options: TlogCheckOptions = {}): TlogCheckResult {
  const logId = entry.logId.toLowerCase();
  const log = logs.find((l) => l.logId === logId);
  if (log === undefined) throw fail('TLOG_LOG_KEY_UNKNOWN', `log ${logId} is not in the trusted root`, { logId });
  // Rekor v2 entries have no integrated time (0): their time comes from a TSA, checked elsewhere.
  const timed = entry.integratedTime > 0;
  if (timed && ((log.validFrom !== undefined && entry.integratedTime < log.validFrom) || (log.validUntil !== undefined && entry.integratedTime > log.validUntil))) {
    throw fail('TLOG_LOG_KEY_UNKNOWN', `the trusted key of log ${logId} was not valid when the entry was integrated`, { logId, integratedTime: entry.integratedTime });
  }
  const uuid = hashLeaf(entry.body).toString('hex');
  if (options.uuid !== undefined && options.uuid.toLowerCase() !== uuid) {
    throw fail('TLOG_ENTRY_MISMATCH', 'the entry body does not hash to the UUID asked for', { expected: options.uuid, actual: uuid });
  }

  let set = false;
  if (entry.signedEntryTimestamp === undefined) {
    if (options.requireSet ?? true) throw fail('TLOG_SET_MISSING', 'the entry has no signed entry timestamp', { uuid });
  } else {
    const payload = canonicalJson({ body: entry.body.toString('base64'), integratedTime: entry.integratedTime, logID: logId, logIndex: entry.logIndex });
    if (!verifySignature(log.key, Buffer.from(payload, 'utf8'), entry.signedEntryTimestamp)) {
      throw fail('TLOG_SET_INVALID', 'the signed entry timestamp does not verify with the log key', { uuid, logIndex: entry.logIndex });
    }
    set = true;
  }

  const proof = entry.inclusionProof;
  if (proof === undefined) {
    if (options.requireInclusionProof ?? true) throw fail('TLOG_INCLUSION_PROOF_MISSING', 'the entry has no inclusion proof', { uuid });
    return { set, inclusionProof: false, checkpoint: false, uuid, log };
  }
  const root = rootFromInclusionProof(proof.logIndex, proof.treeSize, hashLeaf(entry.body), proof.hashes);
  if (root === undefined || !root.equals(proof.rootHash)) {
    throw fail('TLOG_INCLUSION_PROOF_INVALID', 'the inclusion proof does not lead from the entry to the root hash', { uuid, treeSize: proof.treeSize.toString() });
  }
  const signed = parseSignedCheckpoint(proof.checkpoint);
  if (signed === undefined) throw fail('TLOG_CHECKPOINT_INVALID', 'the checkpoint is not a signed note', { uuid });
  if (!checkpointSignedBy(signed, log.key, Buffer.from(log.logId, 'hex').subarray(0, 4))) {
    throw fail('TLOG_CHECKPOINT_INVALID', 'the checkpoint is not signed by the log key', { uuid, logId });
  }
  if (!signed.checkpoint.rootHash.equals(proof.rootHash) || signed.checkpoint.treeSize !== proof.treeSize) {
    throw fail('TLOG_INCLUSION_PROOF_INVALID', 'the inclusion proof root or size differs from the signed checkpoint', { uuid });
  }
  return { set, inclusionProof: true, checkpoint: true, uuid, log };
}

/** A Rekor v1 API LogEntry value (`{body, integratedTime, logID, logIndex, verification}`) as evidence. */
export function evidenceFromRekorV1(anon: unknown): TlogEntryEvidence {
  const e = anon as {
    body?: unknown;
    integratedTime?: unknown;
    logID?: unknown;
    logIndex?: unknown;
    verification?: { signedEntryTimestamp?: unknown; inclusionProof?: { logIndex?: unknown; treeSize?: unknown; rootHash?: unknown; hashes?: unknown; checkpoint?: unknown } };
  } | null;
  const body = b64(e?.body);
  if (e === null || body === undefined || typeof e.integratedTime !== 'number' || typeof e.logID !== 'string' || typeof e.logIndex !== 'number') {
    throw new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', 'not a Rekor log entry (body, integratedTime, logID, logIndex)');
  }
  const p = e.verification?.inclusionProof;
  let inclusionProof: TlogEntryEvidence['inclusionProof'];
  if (p !== undefined) {
    if (typeof p.logIndex !== 'number' || typeof p.treeSize !== 'number' || typeof p.rootHash !== 'string' || !Array.isArray(p.hashes) || typeof p.checkpoint !== 'string') {
      throw new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', 'the inclusion proof is malformed');
    }
    inclusionProof = {
      logIndex: BigInt(p.logIndex),
      treeSize: BigInt(p.treeSize),
      rootHash: Buffer.from(p.rootHash, 'hex'),
      hashes: (p.hashes as unknown[]).map((h) => Buffer.from(String(h), 'hex')),
      checkpoint: p.checkpoint,
    };
  }
  return {
    body,
    integratedTime: e.integratedTime,
    logIndex: e.logIndex,
    logId: e.logID,
    signedEntryTimestamp: b64(e.verification?.signedEntryTimestamp),
    inclusionProof,
  };
}

/** A Sigstore bundle's `tlogEntries[i]` (protobuf JSON form) as evidence. */
export function evidenceFromBundleEntry(entry: unknown): TlogEntryEvidence {
  const e = entry as {
    logIndex?: string;
    logId?: { keyId?: string };
    integratedTime?: string;
    canonicalizedBody?: string;
    inclusionPromise?: { signedEntryTimestamp?: string };
    inclusionProof?: { logIndex?: string; rootHash?: string; treeSize?: string; hashes?: string[]; checkpoint?: { envelope?: string } };
  } | null;
  const body = b64(e?.canonicalizedBody);
  const logId = b64(e?.logId?.keyId);
  if (e === null || body === undefined || logId === undefined) {
    throw new ProvenantError('permanent', 'TLOG_RESPONSE_INVALID', 'the bundle log entry lacks canonicalizedBody or logId');
  }
  const p = e.inclusionProof;
  return {
    body,
    // Protobuf JSON omits zero values.
    integratedTime: Number(e.integratedTime ?? 0),
    logIndex: Number(e.logIndex ?? 0),
    logId: logId.toString('hex'),
    signedEntryTimestamp: b64(e.inclusionPromise?.signedEntryTimestamp),
    inclusionProof:
      p === undefined
        ? undefined
        : {
            logIndex: BigInt(p.logIndex ?? 0),
            treeSize: BigInt(p.treeSize ?? 0),
            rootHash: Buffer.from(p.rootHash ?? '', 'base64'),
            hashes: (p.hashes ?? []).map((h) => Buffer.from(h, 'base64')),
            checkpoint: p.checkpoint?.envelope ?? '',
          },
  };
}

/** A Sigstore bundle `verificationMaterial.tlogEntries[]` item in protobuf JSON form. */
export interface BundleTlogEntryJson {
  readonly logIndex: string;
  readonly logId: { readonly keyId: string };
  readonly kindVersion: { readonly kind: string; readonly version: string };
  readonly integratedTime: string;
  readonly inclusionPromise?: { readonly signedEntryTimestamp: string };
  readonly inclusionProof?: {
    readonly logIndex: string;
    readonly rootHash: string;
    readonly treeSize: string;
    readonly hashes: readonly string[];
    readonly checkpoint: { readonly envelope: string };
  };
  readonly canonicalizedBody: string;
}

/** Evidence of a verified Rekor v1 entry as a bundle tlog entry (what cosign and sigstore-js embed). */
export function bundleEntryFromRekorV1(e: TlogEntryEvidence, kind: string, version: string): BundleTlogEntryJson {
  const p = e.inclusionProof;
  return {
    logIndex: String(e.logIndex),
    logId: { keyId: Buffer.from(e.logId, 'hex').toString('base64') },
    kindVersion: { kind, version },
    integratedTime: String(e.integratedTime),
    ...(e.signedEntryTimestamp === undefined ? {} : { inclusionPromise: { signedEntryTimestamp: e.signedEntryTimestamp.toString('base64') } }),
    ...(p === undefined
      ? {}
      : {
          inclusionProof: {
            logIndex: p.logIndex.toString(),
            rootHash: p.rootHash.toString('base64'),
            treeSize: p.treeSize.toString(),
            hashes: p.hashes.map((h) => h.toString('base64')),
            checkpoint: { envelope: p.checkpoint },
          },
        }),
    canonicalizedBody: e.body.toString('base64'),
  };
}
