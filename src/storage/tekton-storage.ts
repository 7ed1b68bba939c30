/**
 * `tekton` storage: the signed payload as annotations on the run itself, exactly as Tekton Chains
 * writes them (pkg/chains/storage/tekton), so `tkn chains` and existing scripts keep working:
 *
 *   chains.tekton.dev/payload-<shortKey>    b64(payload bytes: the statement / simple-signing JSON)
 *   chains.tekton.dev/signature-<shortKey>  b64(DSSE envelope JSON) for provenance,
 *                                           b64(raw signature bytes) for an image signature
 *   chains.tekton.dev/cert-<shortKey>       b64(signing certificate PEM), b64("") = "" with a key
 *   chains.tekton.dev/chain-<shortKey>      b64(issuing chain PEMs), "" when the bundle has none
 *
 * All values use standard base64 with padding (Go's base64.StdEncoding).
 *
 * Kubernetes rejects an object whose annotations total more than 256 KiB (keys + values), and a
 * large statement turns into an endless patch failure in Chains (tektoncd/chains#1076). Here the
 * backend refuses up front with a permanent `TEKTON_ANNOTATIONS_TOO_LARGE`, keeping a margin for
 * the small annotations written after storage (`signed`, `transparency`, `retries`) and for other
 * controllers.
 */
import { pem } from '@sigstore/core';
import { envelopeFromJSON, envelopeToJSON } from '@sigstore/bundle';
import { ProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { certAnnotation, chainAnnotation, formatRunKey, payloadAnnotation, signatureAnnotation, type RunKey } from '../tekton/index.js';
import type { StorageBackend, StoreRequest, StoreResult } from './types.js';

/** Kubernetes' limit on the total size of an object's annotations (apimachinery TotalAnnotationSizeLimitB). */
export const kubernetesAnnotationsLimitBytes = 256 * 1024;
/** Default ceiling for the run's annotations after our patch: the Kubernetes limit minus 32 KiB of headroom. */
export const defaultMaxAnnotationBytes = kubernetesAnnotationsLimitBytes - 32 * 1024;

/** What the run holds now, so the size check counts the annotations the patch will sit beside. */
export interface RunObjectSize {
  /** The run's current annotations (keys we are about to overwrite are not counted twice). */
  readonly annotations: Readonly<Record<string, string>>;
}

export interface TektonStorageDeps {
  /**
   * Merge-patch `metadata.annotations` of the run (the Kubernetes RunStore provides it). Without it
   * (`deferPatch`), `store` returns the annotations for the caller's one patch per run.
   */
  readonly patchAnnotations?: (run: RunKey, annotations: Record<string, string>) => Promise<void>;
  /** Current annotations of the run; without it only the new annotations are measured. */
  readonly getObjectSize?: (run: RunKey) => Promise<RunObjectSize>;
  /** Ceiling for the total annotations size after the patch; default `defaultMaxAnnotationBytes`. */
  readonly maxAnnotationBytes?: number;
  readonly logger: Logger;
}

function b64(data: Uint8Array | string): string {
  return Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64');
}

function derToPem(derB64: string): string {
  return pem.fromDER(Buffer.from(derB64, 'base64'));
}

/** Leaf certificate PEM and the rest of the chain (PEMs concatenated), as Chains' Cert()/Chain(). */
function certificatesOf(request: StoreRequest): { cert: string; chain: string } {
  const material = request.bundle.verificationMaterial;
  if (material.certificate !== undefined) return { cert: derToPem(material.certificate.rawBytes), chain: '' };
  if (material.x509CertificateChain !== undefined) {
    const [leaf, ...rest] = material.x509CertificateChain.certificates;
    return { cert: leaf === undefined ? '' : derToPem(leaf.rawBytes), chain: rest.map((c) => derToPem(c.rawBytes)).join('') };
  }
  return { cert: '', chain: '' };
}

/**
 * The value Chains calls "signature": for DSSE the whole envelope JSON (Chains' wrapped signer
 * returns the marshalled envelope), for a message signature the raw signature bytes.
 * The envelope is serialised exactly as it is sent to Rekor (sigstore-js `envelopeToJSON`), so the
 * annotation bytes hash to the `envelopeHash` of the transparency log entry.
 */
function signatureBytes(request: StoreRequest): Uint8Array {
  const { bundle } = request;
  if (bundle.dsseEnvelope !== undefined) {
    return Buffer.from(JSON.stringify(envelopeToJSON(envelopeFromJSON(bundle.dsseEnvelope))), 'utf8');
  }
  if (bundle.messageSignature !== undefined) return Buffer.from(bundle.messageSignature.signature, 'base64');
  throw new ProvenantError('permanent', 'TEKTON_BUNDLE_INVALID', 'tekton storage: the bundle holds neither a DSSE envelope nor a message signature', {
    context: { run: formatRunKey(request.run), shortKey: request.artifact.shortKey },
  });
}

/** The four `chains.tekton.dev/*-<shortKey>` annotations for one stored artifact (pure). */
export function annotationsForStorage(request: StoreRequest): Record<string, string> {
  const key = request.artifact.shortKey;
  const { cert, chain } = certificatesOf(request);
  return {
    [payloadAnnotation(key)]: b64(request.payload),
    [signatureAnnotation(key)]: b64(signatureBytes(request)),
    [certAnnotation(key)]: b64(cert),
    [chainAnnotation(key)]: b64(chain),
  };
}

/** Bytes Kubernetes counts for a set of annotations: UTF-8 length of every key and value. */
export function annotationsSize(annotations: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) total += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(v, 'utf8');
  return total;
}

export function createTektonStorage(deps: TektonStorageDeps): StorageBackend {
  const max = deps.maxAnnotationBytes ?? defaultMaxAnnotationBytes;
  return {
    name: 'tekton',
    async store(request: StoreRequest): Promise<StoreResult> {
      const annotations = annotationsForStorage(request);
      const existing = request.runAnnotations ?? (deps.getObjectSize === undefined ? {} : (await deps.getObjectSize(request.run)).annotations);
      const total = annotationsSize({ ...existing, ...annotations });
      if (total > max) {
        throw new ProvenantError(
          'permanent',
          'TEKTON_ANNOTATIONS_TOO_LARGE',
          `tekton storage: the run's annotations would total ${total} bytes, over the ${max}-byte ceiling`,
          {
            context: {
              run: formatRunKey(request.run),
              shortKey: request.artifact.shortKey,
              totalBytes: total,
              newBytes: annotationsSize(annotations),
              maxBytes: max,
              hint: 'use the oci or local storage backend for large provenance',
            },
          },
        );
      }
      if (deps.patchAnnotations === undefined) return { backend: 'tekton', locations: Object.keys(annotations), annotations };
      await deps.patchAnnotations(request.run, annotations);
      deps.logger.debug({ run: formatRunKey(request.run), shortKey: request.artifact.shortKey, bytes: total }, 'stored as run annotations');
      return { backend: 'tekton', locations: Object.keys(annotations) };
    },
  };
}
