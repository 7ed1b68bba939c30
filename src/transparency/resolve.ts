/**
 * Where one run's signatures get their proof of time, decided from the Config alone, so the
 * controller and `provenant sign` (whose flags were folded into the Config first) decide alike:
 * - a Rekor entry at `transparency.url` when `shouldUpload` says so (`true`, or `manual` with the
 *   run's `chains.tekton.dev/transparency-upload: "true"`);
 * - an RFC 3161 timestamp from `signers.x509.tsa.url`, when set, for every run.
 */
import type { Config } from '../config/index.js';
import { shouldUpload } from './upload-policy.js';

export interface TransparencyTargets {
  /** Rekor base URL to log this run's signatures in, or undefined for no log entry. */
  readonly rekorUrl: string | undefined;
  /** Timestamp authority base URL, or undefined for no timestamp. */
  readonly tsaUrl: string | undefined;
}

export function resolveTransparency(
  config: { readonly transparency: Config['transparency']; readonly signers: { readonly x509: Pick<Config['signers']['x509'], 'tsa'> } },
  runAnnotations: Readonly<Record<string, string>> | undefined,
): TransparencyTargets {
  return {
    rekorUrl: shouldUpload(config, runAnnotations) ? config.transparency.url : undefined,
    tsaUrl: config.signers.x509.tsa.url,
  };
}
