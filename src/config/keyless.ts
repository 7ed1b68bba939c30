/**
 * A keyless signature is made with a Fulcio certificate valid for about ten minutes. Once it has
 * expired, only a proof of *when* the signature was made lets anyone verify it: a transparency log
 * entry (Rekor's integrated time) or an RFC 3161 timestamp. A configuration that would produce
 * keyless signatures with neither is refused at load time, like any other bad key.
 */
import type { Config, ConfigProblem } from './types.js';

/** True when some artifact kind is signed by the `x509` signer and that signer is Fulcio keyless. */
export function usesKeyless(config: Pick<Config, 'artifacts' | 'signers'>): boolean {
  if (!config.signers.x509.fulcio.enabled) return false;
  const a = config.artifacts;
  return [a.taskrun.signer, a.pipelinerun.signer, a.oci.signer].includes('x509');
}

/**
 * The problems (zero or one) of a keyless configuration that cannot be verified later. `manual`
 * counts as no log: a run without the `transparency-upload` annotation would get neither proof.
 */
export function keylessVerifiabilityProblems(config: Pick<Config, 'artifacts' | 'signers' | 'transparency'>): ConfigProblem[] {
  if (!usesKeyless(config) || config.signers.x509.tsa.url !== undefined || config.transparency.mode === 'true') return [];
  const manual = config.transparency.mode === 'manual';
  return [
    {
      key: 'transparency.enabled',
      value: config.transparency.mode,
      message:
        `keyless signing (signers.x509.fulcio.enabled: "true") needs proof of when each signature was made, or it cannot be verified ` +
        `once its short-lived certificate expires${manual ? ' (under "manual", runs without the transparency-upload annotation get no log entry)' : ''}: ` +
        `set transparency.enabled: "true" (Rekor at transparency.url) and/or signers.x509.tsa.url (an RFC 3161 timestamp authority)`,
    },
  ];
}
