/**
 * Which runs go to the transparency log, following Chains' `transparency.enabled`:
 * `true` every run, `false` none, `manual` only runs annotated
 * `chains.tekton.dev/transparency-upload: "true"`.
 */
import type { Config } from '../config/index.js';
import { transparencyUploadAnnotation } from '../tekton/index.js';

export function shouldUpload(
  config: { readonly transparency: Pick<Config['transparency'], 'mode'> },
  runAnnotations: Readonly<Record<string, string>> | undefined,
): boolean {
  switch (config.transparency.mode) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'manual':
      // Chains compares the annotation to "true" exactly; so do we.
      return runAnnotations?.[transparencyUploadAnnotation] === 'true';
  }
}
