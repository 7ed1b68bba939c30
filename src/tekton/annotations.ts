/**
 * Every `chains.tekton.dev/*` annotation and label name, in one module (STYLE.md #11).
 * Names and values are Tekton Chains' own, so runs signed by Chains and by provenant look alike.
 */

export const chainsPrefix = 'chains.tekton.dev/';

/** `"true"` once signed and stored, `"failed"` after the retry budget: both mean "reconciled". */
export const signedAnnotation = 'chains.tekton.dev/signed';
export const signedValues = { true: 'true', failed: 'failed' } as const;

/**
 * provenant's own: the uid of the run that was signed, written with `signed`. Re-run tools copy
 * annotations onto a new run (Chains #1004); a uid that is not the run's own means "not signed".
 */
export const signedUidAnnotation = 'chains.tekton.dev/signed-uid';

/** Number of failed attempts so far (the queue's attempt count decides when to give up). */
export const retriesAnnotation = 'chains.tekton.dev/retries';

/** `<transparency.url>/api/v1/log/entries?logIndex=<N>` of the Rekor entry. */
export const transparencyAnnotation = 'chains.tekton.dev/transparency';

/** `"true"` on a run opts it in to Rekor upload when `transparency.enabled: manual`. */
export const transparencyUploadAnnotation = 'chains.tekton.dev/transparency-upload';

/** Prefixes of the `tekton` storage backend; the full key is `<prefix><shortKey>`. Values: std base64. */
export const payloadAnnotationPrefix = 'chains.tekton.dev/payload-';
export const signatureAnnotationPrefix = 'chains.tekton.dev/signature-';
export const certAnnotationPrefix = 'chains.tekton.dev/cert-';
export const chainAnnotationPrefix = 'chains.tekton.dev/chain-';

/** Label: `"true"` sets `predicate.metadata.reproducible` in SLSA v0.2. */
export const reproducibleLabel = 'chains.tekton.dev/reproducible';

/** Finalizers Chains adds (provenant never adds them: they caused stuck deletions, Chains #204/#560/#602). */
export const taskRunFinalizer = 'chains.tekton.dev/taskrun';
export const pipelineRunFinalizer = 'chains.tekton.dev/pipelinerun';

/**
 * provenant's own: the machine-readable error code of the last failure (`signed=failed` runs),
 * so `kubectl get -o yaml` says why without reading controller logs.
 */
export const reasonAnnotation = 'chains.tekton.dev/reason';

/** Tekton Pipelines' label naming the pipeline task a child TaskRun executed. */
export const pipelineTaskLabel = 'tekton.dev/pipelineTask';

/** kubectl's last-applied annotation, left out of provenance like Chains does. */
export const lastAppliedConfigAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

export const payloadAnnotation = (shortKey: string): string => payloadAnnotationPrefix + shortKey;
/** provenant: the Archivista gitoid of an artifact's DSSE envelope (`archivista` storage). */
export const archivistaGitoidAnnotation = (shortKey: string): string => `chains.tekton.dev/archivista-gitoid-${shortKey}`;
export const signatureAnnotation = (shortKey: string): string => signatureAnnotationPrefix + shortKey;
export const certAnnotation = (shortKey: string): string => certAnnotationPrefix + shortKey;
export const chainAnnotation = (shortKey: string): string => chainAnnotationPrefix + shortKey;

/** Chains' short key of a run artifact: `taskrun-<uid>` / `pipelinerun-<uid>`. */
export function runShortKey(kind: 'TaskRun' | 'PipelineRun', uid: string): string {
  return `${kind.toLowerCase()}-${uid}`;
}

/** Chains' short key of an image: the first 12 hex characters of its sha256 digest. */
export function imageShortKey(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
