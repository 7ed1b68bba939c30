/**
 * gitsign commit signatures: a detached CMS SignedData (PEM `SIGNED MESSAGE`) whose signer is a Fulcio
 * certificate.
 *
 * Checked here: the `messageDigest` signed attribute is sha256 of the commit payload (the commit
 * object without its `gpgsig` header) and the CMS signature over the signed attributes verifies with
 * the certificate's key. gitsign's Rekor entry (a `hashedrekord` of the commit id signed with the same
 * certificate) is found by sha256(commit id) and verified as a Sigstore message-signature bundle with
 * `@sigstore/verify`: certificate chain to the trusted root's Fulcio CA, SCT, Rekor signed entry
 * timestamp, certificate valid at the logged time, and the identity (subject + issuer, Fulcio
 * extensions) of the rule.
 */
import { createHash, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import type { SerializedBundle } from '@sigstore/bundle';
import { ASN1Obj } from '@sigstore/core';
import { isProvenantError } from '../errors.js';
import { fetchRekorEntry } from './inspect-sources.js';
import type { CommitCheck } from './trace.js';
import { certificateExtensionsMatch } from './trace-identity.js';
import type { TraceRule } from './trace-policy.js';
import { verifyBundle } from './verify-bundle.js';

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';

export interface GitsignParts {
  readonly certificate: Buffer;
  /** DER of the signed attributes as a SET (what the signature covers). */
  readonly signedAttributes: Buffer;
  readonly messageDigest: Buffer;
  readonly signature: Buffer;
}

/** Parses a gitsign CMS signature; undefined when it is not one gitsign writes. */
export function parseGitsignSignature(pem: string): GitsignParts | undefined {
  const b64 = pem.replace(/-----(BEGIN|END) SIGNED MESSAGE-----/g, '').replace(/\s+/g, '');
  try {
    const info = ASN1Obj.parseBuffer(Buffer.from(b64, 'base64'));
    if (info.subs[0]?.toOID() !== OID_SIGNED_DATA) return undefined;
    const signedData = info.subs[1]?.subs[0];
    if (signedData === undefined) return undefined;
    const certs = signedData.subs.find((s) => s.tag.isContextSpecific(0));
    const signerInfos = signedData.subs[signedData.subs.length - 1];
    const signerInfo = signerInfos?.subs[0];
    const certificate = certs?.subs[0]?.toDER();
    const attrs = signerInfo?.subs.find((s) => s.tag.isContextSpecific(0));
    const signature = signerInfo?.subs.find((s, i) => i > 2 && s.tag.isOctetString());
    if (certificate === undefined || attrs === undefined || signature === undefined) return undefined;
    const der = Buffer.from(attrs.toDER());
    der[0] = 0x31; // [0] IMPLICIT → SET OF, as signed
    let messageDigest: Buffer | undefined;
    for (const attr of attrs.subs) {
      if (attr.subs[0]?.toOID() === OID_MESSAGE_DIGEST) messageDigest = Buffer.from(attr.subs[1]?.subs[0]?.value ?? []);
    }
    if (messageDigest === undefined) return undefined;
    return { certificate: Buffer.from(certificate), signedAttributes: der, messageDigest, signature: Buffer.from(signature.value) };
  } catch {
    return undefined;
  }
}

interface RekorHit {
  readonly fetchEntry: (uuid: string) => Promise<SerializedBundle['verificationMaterial']['tlogEntries'][number]>;
}

/** Finds the Rekor entries indexed by `sha256:<hex>` (`POST /api/v1/index/retrieve`). */
export async function searchRekor(rekorUrl: string, hash: string, fetchFn: typeof fetch = fetch): Promise<string[]> {
  const response = await fetchFn(new URL('/api/v1/index/retrieve', rekorUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ hash }),
    signal: AbortSignal.timeout(15_000),
  });
  if (!response.ok) return [];
  const json = (await response.json()) as unknown;
  return Array.isArray(json) ? json.filter((u): u is string => typeof u === 'string') : [];
}

function rekorFetcher(rekorUrl: string): RekorHit {
  return { fetchEntry: (uuid) => fetchRekorEntry(new URL(`/api/v1/log/entries/${uuid}`, rekorUrl).toString()) };
}

function cmsSignatureValid(parts: GitsignParts): boolean {
  try {
    const key = new X509Certificate(parts.certificate).publicKey;
    return cryptoVerify('sha256', parts.signedAttributes, key, parts.signature);
  } catch {
    return false;
  }
}

function hashedRekordSignature(entry: SerializedBundle['verificationMaterial']['tlogEntries'][number]): string | undefined {
  try {
    const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8')) as { kind?: string; spec?: { signature?: { content?: string } } };
    return body.kind === 'hashedrekord' ? body.spec?.signature?.content : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies gitsign's signature on commit `commitId` (`payload` = the commit without `gpgsig`) under the
 * keyless identities of `rule`. gitsign (online Rekor mode) also signs the commit id with the same
 * certificate and logs that as a `hashedrekord` entry over sha256(commit id): that entry, found in
 * Rekor's index, proves the certificate was used while valid.
 */
export async function verifyGitsignSignature(
  payload: string,
  signature: string,
  commitId: string,
  rule: TraceRule | undefined,
  rekorUrl: string | undefined,
): Promise<CommitCheck> {
  const parts = parseGitsignSignature(signature);
  if (parts === undefined) return { verdict: 'invalid-signature', reason: 'TRACE_COMMIT_SIGNATURE_UNSUPPORTED' };
  if (!parts.messageDigest.equals(createHash('sha256').update(payload).digest()) || !cmsSignatureValid(parts)) {
    return { verdict: 'invalid-signature', reason: 'VERIFY_SIGNATURE_INVALID' };
  }
  const idHash = createHash('sha256').update(commitId).digest();
  let entry: SerializedBundle['verificationMaterial']['tlogEntries'][number] | undefined;
  if (rekorUrl !== undefined) {
    const rekor = rekorFetcher(rekorUrl);
    for (const uuid of (await searchRekor(rekorUrl, `sha256:${idHash.toString('hex')}`)).slice(0, 4)) {
      const e = await rekor.fetchEntry(uuid);
      if (hashedRekordSignature(e) !== undefined) {
        entry = e;
        break;
      }
    }
  }
  if (entry === undefined) return { verdict: 'invalid-signature', reason: 'VERIFY_TLOG_MISSING' };
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { certificate: { rawBytes: parts.certificate.toString('base64') }, tlogEntries: [entry], timestampVerificationData: undefined },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: idHash.toString('base64') }, signature: hashedRekordSignature(entry) },
  } as unknown as SerializedBundle;
  const keyless = (rule?.identities ?? []).filter((i) => 'identity' in i.policy);
  if (keyless.length === 0) return { verdict: 'identity-mismatch', reason: 'TRACE_NO_KEYLESS_IDENTITY' };
  const codes: string[] = [];
  for (const identity of keyless) {
    try {
      const v = verifyBundle(bundle, { ...identity.policy, requireTlog: true }, { artifact: Buffer.from(commitId) });
      if (identity.extensions !== undefined && !certificateExtensionsMatch(bundle, identity.extensions)) {
        codes.push('VERIFY_IDENTITY_MISMATCH');
        continue;
      }
      const signer = 'san' in v.signer ? `${v.signer.san}${v.signer.issuer === undefined ? '' : ` (${v.signer.issuer})`}` : 'key';
      return { verdict: 'signed-commit', signer: `gitsign ${signer}` };
    } catch (err) {
      if (!isProvenantError(err) || err.kind === 'transient') throw err;
      codes.push(err.code);
    }
  }
  if (codes.every((c) => c === 'VERIFY_IDENTITY_MISMATCH')) return { verdict: 'identity-mismatch', reason: 'VERIFY_IDENTITY_MISMATCH' };
  return { verdict: 'invalid-signature', reason: codes.find((c) => c !== 'VERIFY_IDENTITY_MISMATCH') ?? 'VERIFY_FAILED' };
}
