/**
 * Azure Key Vault signer (`signers.kms.kmsref: azurekms://<vault host>/<key>[/<version>]`, sigstore/sigstore's
 * form: `azurekms://myvault.vault.azure.net/mykey`), with `@azure/keyvault-keys` and `@azure/identity`.
 *
 * The key version (the one named, else the current one) and its public key are resolved once; signatures
 * are requested for that version, so they always match the published key. Key Vault returns ECDSA as
 * JWS r||s; bundles need DER, so it is converted. Credentials, in order: workload identity
 * (`AZURE_FEDERATED_TOKEN_FILE` + `AZURE_CLIENT_ID` + `AZURE_TENANT_ID`, the AKS webhook's variables),
 * a client secret (`AZURE_CLIENT_SECRET` + the same two), else `DefaultAzureCredential` (managed identity
 * and the rest, as sigstore/sigstore does). `AZURE_AUTHORITY_HOST` is honoured. Secrets never reach a
 * log line or an error message.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { Signature } from '@sigstore/sign';
import type { TokenCredential } from '@azure/identity';
import type { CommonClientOptions } from '@azure/core-client';
import { ProvenantError, type ErrorKind, type SigningErrorCode } from '../errors.js';
import { rawEcdsaToDer } from './der.js';
import { kmsKeyAlgorithmOf } from './key-signer.js';
import type { KeySigner, SignerDeps } from './types.js';

const SETTING = 'signers.kms.kmsref';
// sigstore/sigstore kms/azure: ^azurekms://([^/]+)/([^/]+)(/[a-z0-9]*)?$
const refPattern = /^azurekms:\/\/([^/]+)\/([^/]+?)(?:\/([a-z0-9]*))?$/;

export interface AzureKmsRef {
  /** `https://<host>/` */
  readonly vaultUrl: string;
  readonly keyName: string;
  readonly version?: string;
}

export function parseAzureKmsRef(ref: string): AzureKmsRef {
  const m = refPattern.exec(ref);
  if (!m || m[1] === undefined || m[2] === undefined) {
    throw new ProvenantError('config', 'KMS_REF_INVALID', `${SETTING} is not a valid azurekms:// reference`, {
      context: { setting: SETTING, hint: 'use azurekms://<vault>.vault.azure.net/<key>[/<version>]' },
    });
  }
  return { vaultUrl: `https://${m[1]}/`, keyName: m[2], ...(m[3] ? { version: m[3] } : {}) };
}

export interface AzureKmsSignerDeps extends SignerDeps {
  /** Passed to the Key Vault clients and the credential (e.g. `tlsOptions`, retry options). */
  readonly azureClientOptions?: CommonClientOptions & { readonly disableChallengeResourceVerification?: boolean; readonly disableInstanceDiscovery?: boolean };
  /** A credential to use instead of the environment's (tests, or an embedding program). */
  readonly azureCredential?: TokenCredential;
}

interface Classified {
  readonly kind: ErrorKind;
  readonly code: SigningErrorCode;
}

// @azure/identity error classes: the identity could not get a token (wrong secret, bad assertion, none configured).
const credentialErrors = new Set(['CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError', 'AuthenticationRequiredError']);

/** By HTTP status (RestError.statusCode) or credential error class, never by message text. */
function classifyAzureError(err: unknown): Classified {
  const e = err as { statusCode?: unknown; name?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (typeof e.name === 'string' && credentialErrors.has(e.name)) {
    return { kind: 'permanent', code: 'KMS_ACCESS_DENIED' };
  }
  if (status === 401 || status === 403) return { kind: 'permanent', code: 'KMS_ACCESS_DENIED' };
  if (status === 404) return { kind: 'permanent', code: 'KMS_KEY_NOT_FOUND' };
  if (status === 429) return { kind: 'transient', code: 'KMS_THROTTLED' };
  if (status !== undefined && status >= 500) return { kind: 'transient', code: 'KMS_UNAVAILABLE' };
  if (status !== undefined) return { kind: 'permanent', code: 'KMS_REQUEST_REJECTED' };
  return { kind: 'transient', code: 'KMS_UNREACHABLE' };
}

const hints: Readonly<Record<string, string>> = {
  KMS_ACCESS_DENIED: 'grant the controller identity "Key Vault Crypto User" (keys/get, keys/sign) and check AZURE_CLIENT_ID/AZURE_TENANT_ID and the federated token or client secret',
  KMS_KEY_NOT_FOUND: 'check the vault host, key name and version in signers.kms.kmsref',
};

async function credentialFrom(env: NodeJS.ProcessEnv, options: CommonClientOptions | undefined): Promise<TokenCredential> {
  const identity = await import('@azure/identity');
  const authorityHost = env['AZURE_AUTHORITY_HOST'];
  const common = { ...(options ?? {}), ...(authorityHost ? { authorityHost } : {}) };
  const tenantId = env['AZURE_TENANT_ID'];
  const clientId = env['AZURE_CLIENT_ID'];
  const tokenFile = env['AZURE_FEDERATED_TOKEN_FILE'];
  const secret = env['AZURE_CLIENT_SECRET'];
  if (tokenFile && tenantId && clientId) {
    return new identity.WorkloadIdentityCredential({ ...common, tenantId, clientId, tokenFilePath: tokenFile });
  }
  if (secret && tenantId && clientId) return new identity.ClientSecretCredential(tenantId, clientId, secret, common);
  return new identity.DefaultAzureCredential(common);
}

export async function createAzureKmsSigner(ref: string, deps: AzureKmsSignerDeps): Promise<KeySigner> {
  const parsed = parseAzureKmsRef(ref);
  const env = deps.env ?? process.env;
  const { KeyClient, CryptographyClient } = await import('@azure/keyvault-keys');
  const credential = deps.azureCredential ?? (await credentialFrom(env, deps.azureClientOptions));
  const clientOptions = deps.azureClientOptions ?? {};
  const keys = new KeyClient(parsed.vaultUrl, credential, clientOptions);

  let publicKey: KeyObject;
  let keyId: string;
  try {
    const key = await keys.getKey(parsed.keyName, parsed.version === undefined ? {} : { version: parsed.version });
    const jwk = key.key;
    if (jwk?.kid === undefined || jwk.x === undefined || jwk.y === undefined || (jwk.kty !== 'EC' && jwk.kty !== 'EC-HSM')) {
      throw new ProvenantError('config', 'KMS_KEY_UNSUITABLE', `${SETTING} names a Key Vault key provenant cannot sign with: ${jwk?.kty ?? 'unknown'}`, {
        context: { setting: SETTING, hint: 'create an EC key on P-256 (recommended) or P-384 with the sign operation' },
      });
    }
    keyId = jwk.kid;
    publicKey = createPublicKey({
      key: { kty: 'EC', crv: jwk.crv ?? '', x: Buffer.from(jwk.x).toString('base64url'), y: Buffer.from(jwk.y).toString('base64url') },
      format: 'jwk',
    });
  } catch (err) {
    if (err instanceof ProvenantError) throw err;
    const c = classifyAzureError(err);
    deps.logger.warn({ vault: parsed.vaultUrl, key: parsed.keyName, code: c.code }, 'Azure Key Vault getKey failed');
    throw new ProvenantError('config', c.code, `cannot read the public key of ${SETTING}`, {
      context: { setting: SETTING, hint: hints[c.code] ?? 'check that the vault is reachable' },
    });
  }
  const algorithm = kmsKeyAlgorithmOf(publicKey, SETTING);
  if (algorithm === 'ed25519') throw new ProvenantError('config', 'KMS_KEY_UNSUITABLE', `${SETTING}: Key Vault has no ed25519 keys`);
  const hash = algorithm === 'ecdsa-p384-sha384' ? 'sha384' : 'sha256';
  const jwsAlg = hash === 'sha384' ? 'ES384' : 'ES256';
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  // The key id names the version, so every signature is made by the key published above.
  const crypto = new CryptographyClient(keyId, credential, clientOptions);
  let closed = false;
  deps.logger.info({ vault: parsed.vaultUrl, key: parsed.keyName, algorithm }, 'Azure Key Vault signer ready');

  return {
    algorithm,
    publicKeyPem,
    async sign(data: Buffer): Promise<Signature> {
      if (closed) throw new ProvenantError('permanent', 'SIGNER_CLOSED', 'the Azure Key Vault signer was closed');
      const digest = createHash(hash).update(data).digest();
      let raw: Uint8Array;
      try {
        raw = (await crypto.sign(jwsAlg, digest)).result;
      } catch (err) {
        const c = classifyAzureError(err);
        deps.logger.warn({ key: parsed.keyName, code: c.code }, 'Azure Key Vault sign failed');
        throw new ProvenantError(c.kind, c.code, 'Azure Key Vault sign failed', { context: { hint: hints[c.code] ?? 'retried with backoff' } });
      }
      const size = hash === 'sha384' ? 96 : 64;
      if (raw.length !== size) throw new ProvenantError('transient', 'KMS_BAD_RESPONSE', `Azure Key Vault returned a ${raw.length}-byte signature, expected ${size}`);
      return { signature: rawEcdsaToDer(Buffer.from(raw)), key: { $case: 'publicKey', publicKey: publicKeyPem } };
    },
    close: async () => {
      closed = true;
    },
  };
}
