/** `--vsa-out FILE --vsa-key KEY` flags (the signing itself lives in vsa.ts, loaded only when asked for). */
import { usageError } from './args.js';

/** Recorded as the verifier version in a VSA (package.json `version`). */
export const provenantVersion = '0.1.0';

export const vsaArgs = {
  'vsa-out': { type: 'string' },
  'vsa-key': { type: 'string' },
} as const;

export const vsaHelp = `  --vsa-out FILE                   write a signed SLSA Verification Summary Attestation (Sigstore bundle)
  --vsa-key KEY                    its signing key: PEM private key, cosign.key ($COSIGN_PASSWORD), or
                                   awskms:// / gcpkms:// / pkcs11: reference
`;

/** Checks the pair of flags; undefined when no VSA was asked for. */
export function vsaRequest(values: { readonly 'vsa-out'?: string | undefined; readonly 'vsa-key'?: string | undefined }, command: string): { out: string; key: string } | undefined {
  const out = values['vsa-out'];
  const key = values['vsa-key'];
  if (out === undefined && key === undefined) return undefined;
  if (out === undefined || key === undefined) throw usageError(command, '--vsa-out and --vsa-key go together');
  return { out, key };
}
