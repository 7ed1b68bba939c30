/**
 * Command-line flags that override chains-config keys (`provenant sign`). They are applied to the
 * ConfigMap data before parsing, so a flag goes through exactly the validation the key does (the
 * keyless refusal included) and the controller and the CLI read one `Config` the same way.
 */

export interface TransparencyFlags {
  /** `--rekor-url`: the log to use (`transparency.url`); also turns logging on unless the config says `manual`. */
  readonly rekorUrl?: string | undefined;
  /** `--no-tlog`: no transparency log entry, whatever the config says. */
  readonly noTlog?: boolean | undefined;
  /** `--tsa-url`: an RFC 3161 timestamp authority (`signers.x509.tsa.url`). */
  readonly tsaUrl?: string | undefined;
}

const falseWords = new Set(['', '0', 'f', 'F', 'FALSE', 'false', 'False']);

export function applyTransparencyFlags(data: Readonly<Record<string, string>>, flags: TransparencyFlags): Record<string, string> {
  const out: Record<string, string> = { ...data };
  if (flags.rekorUrl !== undefined) {
    out['transparency.url'] = flags.rekorUrl;
    // Under `manual` the run's annotation still decides, as in the controller; an invalid value is left for validation to report.
    if (falseWords.has((out['transparency.enabled'] ?? '').trim())) out['transparency.enabled'] = 'true';
  }
  if (flags.noTlog === true) out['transparency.enabled'] = 'false';
  if (flags.tsaUrl !== undefined) out['signers.x509.tsa.url'] = flags.tsaUrl;
  return out;
}
