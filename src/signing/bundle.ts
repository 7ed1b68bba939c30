import { BUNDLE_V03_MEDIA_TYPE, bundleToJSON, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, type Signer, type Witness } from '@sigstore/sign';

export type { SerializedBundle } from '@sigstore/bundle';
export type { Witness } from '@sigstore/sign';

export const inTotoPayloadType = 'application/vnd.in-toto+json';

export interface SignOptions {
  /** Rekor / TSA witnesses whose entries go into the bundle's verification material. */
  readonly witnesses?: readonly Witness[];
}

/**
 * Signs an in-toto statement as a DSSE envelope in a Sigstore bundle v0.3 (single certificate, no chain,
 * as v0.3 requires). `payload` is the exact serialized statement: those bytes are what gets signed.
 */
export async function signStatement(
  signer: Signer,
  payload: Uint8Array,
  options: SignOptions & { readonly payloadType?: string } = {},
): Promise<SerializedBundle> {
  let verifier = '';
  const capturing: Signer = {
    sign: async (data) => {
      const signature = await signer.sign(data);
      verifier = signature.key.$case === 'publicKey' ? signature.key.publicKey : signature.key.certificate;
      return signature;
    },
  };
  const builder = new DSSEBundleBuilder({ signer: capturing, witnesses: [], certificateChain: false });
  const bundle = await builder.create({ data: Buffer.from(payload), type: options.payloadType ?? inTotoPayloadType });
  // sigstore-js copies the key hint into the envelope's keyid. cosign and sigstore-go (go-securesystemslib
  // dsse) skip a signature whose keyid differs from their own SSH-style fingerprint of the key, so a hex
  // hint made `cosign verify-attestation --new-bundle-format --key` reject KMS and PKCS#11 signatures.
  // cosign writes keyid "" and so do we; the bundle keeps the hint in verificationMaterial.publicKey.
  // Cleared before any witness runs: Rekor's dsse entry hashes the envelope as it is here.
  if (bundle.content.$case === 'dsseEnvelope') for (const s of bundle.content.dsseEnvelope.signatures) s.keyid = '';
  const witnesses = options.witnesses ?? [];
  if (witnesses.length > 0) {
    const materials = await Promise.all(witnesses.map((w) => w.testify(bundle.content, verifier)));
    bundle.verificationMaterial.tlogEntries = materials.flatMap((m) => m.tlogEntries ?? []);
    bundle.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: materials.flatMap((m) => m.rfc3161Timestamps ?? []) };
  }
  return bundleToJSON(bundle);
}

/**
 * Signs raw bytes (a cosign simple-signing payload for an image `.sig`) as a message-signature bundle.
 * sigstore-js builds these as v0.2 with a one-certificate chain; they are normalised to v0.3 like the
 * DSSE bundles.
 */
export async function signMessage(signer: Signer, payload: Uint8Array, options: SignOptions = {}): Promise<SerializedBundle> {
  const builder = new MessageSignatureBundleBuilder({ signer, witnesses: [...(options.witnesses ?? [])] });
  const bundle: Bundle = await builder.create({ data: Buffer.from(payload) });
  const content = bundle.verificationMaterial.content;
  const normalised: Bundle = {
    ...bundle,
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      ...bundle.verificationMaterial,
      content:
        content.$case === 'x509CertificateChain' && content.x509CertificateChain.certificates[0] !== undefined
          ? { $case: 'certificate', certificate: content.x509CertificateChain.certificates[0] }
          : content,
    },
  };
  return bundleToJSON(normalised);
}
