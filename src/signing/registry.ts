/**
 * Builds the signers a Config asks for, once per Config (a reload builds a new set and closes the old).
 * `x509`: Fulcio keyless when `signers.x509.fulcio.enabled`, else the key in the signing Secret.
 * `kms`: chosen by the scheme of `signers.kms.kmsref`.
 */
import type { Config, SignerName } from '../config/index.js';
import { ProvenantError } from '../errors.js';
import { createEphemeralSigner } from './ephemeral-signer.js';
import { createFulcioSigner, type FulcioCertificateSigner } from './fulcio-signer.js';
import { createSecretKeySigner } from './secret-key-signer.js';
import { refuseUnloggable } from './tlog-compat.js';
import type { KeySigner, SignerDeps } from './types.js';

/** What signs: a long-lived key, or a key holder behind a Fulcio certificate. */
export type ProvenantSigner = KeySigner | FulcioCertificateSigner;

export function isFulcioSigner(signer: ProvenantSigner): signer is FulcioCertificateSigner {
  return 'kind' in signer && signer.kind === 'fulcio';
}

export interface RegistryDeps extends SignerDeps {
  /** Clock for certificate reuse; defaults to the system clock. */
  readonly now?: () => Date;
}

type KmsFactory = (ref: string, deps: SignerDeps) => Promise<KeySigner>;

// Loaded lazily: each pulls in a large SDK (or a native module) that most installs never use.
export const kmsSchemes = {
  'awskms://': async (ref, deps) => (await import('./aws-kms-signer.js')).createAwsKmsSigner(ref, deps),
  'gcpkms://': async (ref, deps) => (await import('./gcp-kms-signer.js')).createGcpKmsSigner(ref, deps),
  'pkcs11:': async (ref, deps) => (await import('./pkcs11-signer.js')).createPkcs11Signer(ref, deps),
} as const satisfies Record<string, KmsFactory>;
export type KmsScheme = keyof typeof kmsSchemes;

/** Schemes Tekton Chains accepts that provenant does not implement: reported, not ignored. */
const unimplementedKmsSchemes = ['azurekms://', 'hashivault://'] as const;

export async function createKmsSigner(kmsref: string | undefined, deps: SignerDeps): Promise<KeySigner> {
  if (kmsref === undefined || kmsref === '') {
    throw new ProvenantError('config', 'SIGNING_KMS_REF_MISSING', 'signer "kms" is selected but signers.kms.kmsref is not set', {
      context: { key: 'signers.kms.kmsref', hint: 'set signers.kms.kmsref to an awskms://, gcpkms:// or pkcs11: reference' },
    });
  }
  const scheme = (Object.keys(kmsSchemes) as KmsScheme[]).find((s) => kmsref.startsWith(s));
  if (scheme === undefined) {
    const known = unimplementedKmsSchemes.find((s) => kmsref.startsWith(s));
    throw new ProvenantError(
      'config',
      'SIGNING_KMS_SCHEME_UNSUPPORTED',
      known === undefined
        ? 'signers.kms.kmsref has an unknown scheme'
        : `signers.kms.kmsref uses ${known}, which provenant does not implement`,
      { context: { key: 'signers.kms.kmsref', scheme: known ?? kmsref.split(':')[0], hint: 'use awskms://, gcpkms:// or pkcs11:' } },
    );
  }
  return kmsSchemes[scheme](kmsref, deps);
}

export async function createX509Signer(config: Config, deps: RegistryDeps): Promise<ProvenantSigner> {
  const x509 = config.signers.x509;
  if (!x509.fulcio.enabled) return createSecretKeySigner(config.signers.secretPath, deps);
  return createFulcioSigner({
    keyHolder: createEphemeralSigner(),
    fulcioUrl: x509.fulcio.address,
    tokenFile: x509.identityTokenFile,
    logger: deps.logger,
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
}

export const signerFactories = {
  x509: createX509Signer,
  kms: async (config, deps) => createKmsSigner(config.signers.kms.kmsref, deps),
} as const satisfies Record<Exclude<SignerName, 'none'>, (config: Config, deps: RegistryDeps) => Promise<ProvenantSigner>>;

/** One signer by name (`x509` or `kms`). */
export async function createSignerFromConfig(config: Config, deps: RegistryDeps, name: Exclude<SignerName, 'none'> = 'x509'): Promise<ProvenantSigner> {
  const signer = await signerFactories[name](config, deps);
  return refuseUnloggable(config, name, signer);
}

export type SignedArtifactKind = 'taskrun' | 'pipelinerun' | 'oci';

/** The signers of one Config, each built once and shared by the artifact kinds that name it. */
export interface SignerSet {
  /** undefined when the artifact kind's signer is `none`. */
  signerFor(kind: SignedArtifactKind): ProvenantSigner | undefined;
  close(): Promise<void>;
}

export async function createSignersFromConfig(config: Config, deps: RegistryDeps): Promise<SignerSet> {
  const names = new Set<Exclude<SignerName, 'none'>>();
  for (const kind of ['taskrun', 'pipelinerun', 'oci'] as const) {
    const name = config.artifacts[kind].signer;
    if (name !== 'none') names.add(name);
  }
  const built = new Map<SignerName, ProvenantSigner>();
  try {
    for (const name of names) built.set(name, await createSignerFromConfig(config, deps, name));
  } catch (err) {
    await Promise.allSettled([...built.values()].map((s) => s.close?.()));
    throw err;
  }
  return {
    signerFor: (kind) => built.get(config.artifacts[kind].signer),
    close: async () => {
      await Promise.allSettled([...built.values()].map((s) => s.close?.()));
    },
  };
}
