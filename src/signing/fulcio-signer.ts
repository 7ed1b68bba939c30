/**
 * Fulcio keyless signing: a key holder (ephemeral by default, or any KeySigner: KMS, PKCS#11, Secret key)
 * gets a short-lived certificate for the identity in the OIDC token file, and signatures carry that
 * certificate. Unlike sigstore-js's FulcioSigner (and Tekton Chains, which asks Fulcio for a new
 * certificate on every run), one certificate is reused until it is within `refreshBeforeMs` of
 * expiry. The token file is read anew for every certificate request, so projected-token rotation
 * works, and the token never appears in an error or a log line.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPublicKey } from 'node:crypto';
import type { Signature, Signer } from '@sigstore/sign';
import type { Logger } from '../observability/index.js';
import { ProvenantError } from '../errors.js';
import type { KeySigner } from './types.js';

export interface FulcioSignerOptions {
  readonly keyHolder: KeySigner;
  /** Fulcio base URL (`signers.x509.fulcio.address`). */
  readonly fulcioUrl: string;
  /** OIDC token file (`signers.x509.identity.token.file`). */
  readonly tokenFile: string;
  /** Where tokens come from (`signers.x509.fulcio.provider`); default: read `tokenFile`. Called once per certificate. */
  readonly tokenProvider?: { readonly name: string; getToken(): Promise<string> };
  /**
   * Fulcio CA certificates (DER) from the TUF mirror's trusted root (`signers.x509.tuf.mirror.url`):
   * when given, every issued certificate must be signed by one of them.
   */
  readonly trustedCaCertificates?: readonly Uint8Array[];
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  /** Clock; tests move it to exercise reuse and refresh. */
  readonly now?: () => Date;
  /** Refresh a certificate this long before it expires (default 60 s). */
  readonly refreshBeforeMs?: number;
  /** Fulcio request timeout (default 30 s). */
  readonly timeoutMs?: number;
}

/** A Signer whose signatures carry a Fulcio certificate for its key holder's public key. */
export interface FulcioCertificateSigner extends Signer {
  readonly kind: 'fulcio';
  readonly keyHolder: KeySigner;
  /** The certificate currently reused (PEM), if one has been issued. */
  currentCertificate(): string | undefined;
  close(): Promise<void>;
}

interface IssuedCertificate {
  readonly pem: string;
  readonly notAfter: Date;
}

/** The identity Fulcio binds: `email` (when verified) or `sub`, as Fulcio's challenge expects. */
function tokenSubject(token: string, tokenFile: string): string {
  const invalid = (): ProvenantError =>
    new ProvenantError('config', 'FULCIO_TOKEN_INVALID', `the identity token in ${tokenFile} is not a JWT with a subject`, {
      context: { source: tokenFile, hint: 'mount a projected service account token with audience "sigstore" at signers.x509.identity.token.file' },
    });
  const part = token.split('.')[1];
  if (part === undefined) throw invalid();
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid();
  }
  if (typeof claims['email'] === 'string' && claims['email_verified'] === true) return claims['email'];
  if (typeof claims['sub'] === 'string' && claims['sub'] !== '') return claims['sub'];
  throw invalid();
}

function fulcioAlgorithm(keyHolder: KeySigner): 'ECDSA' | 'ED25519' {
  return keyHolder.algorithm === 'ed25519' ? 'ED25519' : 'ECDSA';
}

interface SigningCertResponse {
  signedCertificateEmbeddedSct?: { chain?: { certificates?: string[] } };
  signedCertificateDetachedSct?: { chain?: { certificates?: string[] } };
}

function issuedBy(cert: X509Certificate, caDer: Uint8Array): boolean {
  try {
    const ca = new X509Certificate(caDer);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

export function createFulcioSigner(options: FulcioSignerOptions): FulcioCertificateSigner {
  const { keyHolder, tokenFile, logger } = options;
  const fulcioUrl = options.fulcioUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());
  const refreshBeforeMs = options.refreshBeforeMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  let current: IssuedCertificate | undefined;
  let pending: Promise<IssuedCertificate> | undefined;

  async function readToken(): Promise<string> {
    let token: string;
    try {
      token = (await readFile(tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new ProvenantError('config', 'FULCIO_TOKEN_UNREADABLE', `cannot read the identity token file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
        cause: err,
        context: { source: tokenFile, hint: 'mount a projected service account token with audience "sigstore" at signers.x509.identity.token.file' },
      });
    }
    if (token === '') {
      throw new ProvenantError('config', 'FULCIO_TOKEN_UNREADABLE', `the identity token file ${tokenFile} is empty`, { context: { source: tokenFile } });
    }
    return token;
  }

  async function requestCertificate(): Promise<IssuedCertificate> {
    const provider = options.tokenProvider;
    const token = provider === undefined ? await readToken() : await provider.getToken();
    const subject = tokenSubject(token, provider === undefined || provider.name === 'filesystem' ? tokenFile : `provider ${provider.name}`);
    const challenge = await keyHolder.sign(Buffer.from(subject));
    const body = JSON.stringify({
      credentials: { oidcIdentityToken: token },
      publicKeyRequest: {
        publicKey: { algorithm: fulcioAlgorithm(keyHolder), content: keyHolder.publicKeyPem },
        proofOfPossession: challenge.signature.toString('base64'),
      },
    });
    const url = `${fulcioUrl}/api/v2/signingCert`;
    let response: Response;
    try {
      response = await doFetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // Network errors never include the request body, but keep only the error's own message.
      throw new ProvenantError('transient', 'FULCIO_UNAVAILABLE', `Fulcio at ${fulcioUrl} is unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!response.ok) {
      // The response body is not echoed: Fulcio error texts can quote token claims.
      await response.body?.cancel();
      const status = response.status;
      if (status >= 500 || status === 429 || status === 408) {
        throw new ProvenantError('transient', 'FULCIO_UNAVAILABLE', `Fulcio at ${fulcioUrl} answered HTTP ${status}`);
      }
      throw new ProvenantError('config', 'FULCIO_REJECTED', `Fulcio at ${fulcioUrl} refused the certificate request (HTTP ${status})`, {
        context: { hint: 'check that Fulcio trusts the token issuer (signers.x509.fulcio.issuer) and that the token audience is "sigstore"', status },
      });
    }
    let pem: string | undefined;
    try {
      const json = (await response.json()) as SigningCertResponse;
      const chain = json.signedCertificateEmbeddedSct?.chain ?? json.signedCertificateDetachedSct?.chain;
      pem = chain?.certificates?.[0];
    } catch {
      pem = undefined;
    }
    if (pem === undefined) {
      throw new ProvenantError('transient', 'FULCIO_RESPONSE_INVALID', `Fulcio at ${fulcioUrl} returned no certificate`);
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (cause) {
      throw new ProvenantError('transient', 'FULCIO_RESPONSE_INVALID', `Fulcio at ${fulcioUrl} returned an unparsable certificate`, { cause });
    }
    const certKey = cert.publicKey.export({ format: 'der', type: 'spki' });
    const ownKey = createPublicKey(keyHolder.publicKeyPem).export({ format: 'der', type: 'spki' });
    if (!certKey.equals(ownKey)) {
      throw new ProvenantError('permanent', 'FULCIO_CERTIFICATE_MISMATCH', `Fulcio at ${fulcioUrl} certified a different public key`);
    }
    const cas = options.trustedCaCertificates;
    if (cas !== undefined && !cas.some((der) => issuedBy(cert, der))) {
      throw new ProvenantError('permanent', 'FULCIO_CERTIFICATE_UNTRUSTED', `Fulcio at ${fulcioUrl} issued a certificate no CA of the TUF trusted root signed`, {
        context: { hint: 'signers.x509.fulcio.address and signers.x509.tuf.mirror.url must belong to the same Sigstore instance' },
      });
    }
    const issued = { pem, notAfter: new Date(cert.validTo) };
    logger.info({ fulcio: fulcioUrl, subjectAltName: cert.subjectAltName, notAfter: issued.notAfter.toISOString() }, 'fulcio certificate issued');
    return issued;
  }

  async function certificate(): Promise<IssuedCertificate> {
    if (current !== undefined && now().getTime() < current.notAfter.getTime() - refreshBeforeMs) return current;
    // One request at a time: concurrent signatures share the certificate being issued.
    pending ??= requestCertificate().finally(() => {
      pending = undefined;
    });
    current = await pending;
    return current;
  }

  return {
    kind: 'fulcio',
    keyHolder,
    currentCertificate: () => current?.pem,
    sign: async (data: Buffer): Promise<Signature> => {
      const cert = await certificate();
      const signature = await keyHolder.sign(data);
      return { signature: signature.signature, key: { $case: 'x509Certificate', certificate: cert.pem } };
    },
    close: async () => {
      current = undefined;
      await keyHolder.close?.();
    },
  };
}
