/**
 * The RFC 3161 timestamp witness: `@sigstore/sign`'s TSAWitness (the timestamp is over the signature
 * bytes, as sigstore-js and cosign verify it), plus a timestamper over arbitrary bytes for cosign's
 * `.att` layers, whose `dev.sigstore.cosign/rfc3161timestamp` covers the whole envelope.
 *
 * `@sigstore/core` (4.0.1) parses a GeneralizedTime fraction only with exactly three digits
 * (`/(\.\d{3})?Z$/`), while DER drops trailing zeros: a TSA answering at 12:00:00.120 writes
 * `…00.12Z`, which sigstore-js then rejects (about one timestamp in ten; Go's cosign accepts it).
 * We parse every token we receive the way @sigstore/core will and ask again when it cannot, so every
 * bundle we produce verifies with sigstore-js too (docs/signing.md has the reproduction).
 *
 * Errors: network, timeout, 408/429/5xx → transient TSA_UNAVAILABLE; other 4xx → permanent TSA_REJECTED;
 * a token @sigstore/core cannot read after every attempt → transient TSA_TIMESTAMP_UNPARSEABLE.
 */
import { createHash } from 'node:crypto';
import { RFC3161Timestamp } from '@sigstore/core';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { TSAWitness, type SignatureBundle, type VerificationMaterial, type Witness } from '@sigstore/sign';
import { ProvenantError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/index.js';

export interface TsaWitnessDeps {
  /** `signers.x509.tsa.url`, the TSA's base URL (requests go to `<url>/api/v1/timestamp`). */
  readonly url: string;
  readonly logger: Logger;
  readonly timeoutMs?: number;
  /** Requests per timestamp when the answer is unreadable by @sigstore/core; default 5. */
  readonly attempts?: number;
  /** For tests: the witness to call instead of a TSAWitness for `url`. */
  readonly witness?: Witness;
}

export interface TsaTimestamper extends Witness {
  /** A signed RFC 3161 timestamp (DER, base64) over `data` itself. */
  timestamp(data: Uint8Array): Promise<string>;
}

/** True when @sigstore/core can read the token's genTime (the check its verifier makes first). */
export function isReadableTimestamp(signedTimestamp: Uint8Array): boolean {
  try {
    const ts = RFC3161Timestamp.parse(Buffer.from(signedTimestamp));
    return !Number.isNaN(ts.signingTime.getTime());
  } catch {
    return false;
  }
}

function statusOf(err: unknown): number | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { statusCode?: unknown; cause?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    current = e.cause;
  }
  return undefined;
}

function classify(err: unknown, url: string): ProvenantError {
  if (err instanceof ProvenantError) return err;
  const status = statusOf(err);
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new ProvenantError('permanent', 'TSA_REJECTED', `the timestamp authority refused the request (HTTP ${String(status)}): ${errorMessage(err)}`, {
      cause: err,
      context: { tsa: url, status, hint: 'check signers.x509.tsa.url' },
    });
  }
  return new ProvenantError('transient', 'TSA_UNAVAILABLE', `the timestamp authority is unavailable: ${errorMessage(err)}`, {
    cause: err,
    context: { tsa: url, status },
  });
}

export function createTsaWitness(deps: TsaWitnessDeps): TsaTimestamper {
  const url = deps.url.replace(/\/+$/, '');
  const inner = deps.witness ?? new TSAWitness({ tsaBaseURL: url, timeout: deps.timeoutMs ?? 30_000, retry: 0 });
  const attempts = Math.max(1, deps.attempts ?? 5);

  async function testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
    for (let attempt = 1; ; attempt++) {
      let material: VerificationMaterial;
      try {
        material = await inner.testify(content, publicKey);
      } catch (err) {
        const classified = classify(err, url);
        deps.logger.warn({ tsa: url, code: classified.code, kind: classified.kind }, 'timestamp request failed');
        throw classified;
      }
      const tokens = material.rfc3161Timestamps ?? [];
      if (tokens.length > 0 && tokens.every((t) => isReadableTimestamp(t.signedTimestamp))) {
        deps.logger.debug({ tsa: url }, 'signature timestamped');
        return material;
      }
      if (attempt >= attempts) {
        throw new ProvenantError('transient', 'TSA_TIMESTAMP_UNPARSEABLE', 'the timestamp authority returned tokens @sigstore/core cannot read', {
          context: { tsa: url, attempts },
        });
      }
      deps.logger.debug({ tsa: url, attempt }, 'timestamp genTime not readable by @sigstore/core; asking again');
    }
  }

  return {
    testify,
    async timestamp(data) {
      // The TSA witness timestamps the "signature" bytes of what it is given: hand it `data` as one.
      const content: SignatureBundle = { $case: 'messageSignature', messageSignature: {
          signature: Buffer.from(data),
          messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: createHash('sha256').update(data).digest() },
        },
      };
      const material = await testify(content, '');
      const token = material.rfc3161Timestamps?.[0]?.signedTimestamp;
      if (token === undefined) throw new ProvenantError('transient', 'TSA_UNAVAILABLE', 'the timestamp authority returned no timestamp', { context: { tsa: url } });
      return Buffer.from(token).toString('base64');
    },
  };
}
