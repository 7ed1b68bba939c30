/**
 * Planning: which artifacts a run needs signed and where each goes. Pure (STYLE.md #5):
 * a function of (run, children, config); composing happens here too because it is pure as well.
 */
import type { Config, FormatName, SignerName, StorageName } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import {
  composeProvenance,
  extractImageSubjects,
  formatFor,
  optionsFromConfig,
  serializeStatement,
  simpleSigningPayload,
  statementSubjects,
  type ArtifactSubject,
  type ProvenanceWarnings,
} from '../provenance/index.js';
import { imageShortKey, runShortKey, type Run } from '../tekton/index.js';

export interface PlannedArtifact {
  readonly type: 'provenance' | 'image-signature';
  /** Chains' short key (annotation suffix in `tekton` storage). */
  readonly shortKey: string;
  /** Unique per run: the key of this artifact's checkpoints (two images can share a 12-hex short key). */
  readonly checkpointKey: string;
  /** Which chains-config artifact section governs it. */
  readonly section: 'taskrun' | 'pipelinerun' | 'oci';
  readonly signer: Exclude<SignerName, 'none'>;
  readonly storage: readonly StorageName[];
  readonly payload: Uint8Array;
  readonly subjects: readonly ArtifactSubject[];
  readonly predicateType?: string;
  readonly format?: FormatName;
}

export function planArtifacts(input: { run: Run; children: readonly Run[]; config: Config; logger?: Logger }): PlannedArtifact[] {
  const { run, children, config, logger } = input;
  const section = run.kind === 'TaskRun' ? 'taskrun' : 'pipelinerun';
  const artifactConfig = config.artifacts[section];
  const out: PlannedArtifact[] = [];

  // Chains: signer "none" disables the artifact entirely.
  if (artifactConfig.signer !== 'none') {
    const format = formatFor(config, run.kind);
    const { statement, warnings } = composeProvenance({ format, run, children, options: optionsFromConfig(config, run.kind) });
    for (const w of warnings) logger?.[w.level](w.fields, w.message);
    out.push({
      type: 'provenance',
      shortKey: runShortKey(run.kind, run.uid),
      checkpointKey: 'provenance',
      section,
      signer: artifactConfig.signer,
      storage: artifactConfig.storage,
      payload: serializeStatement(statement),
      subjects: statementSubjects(statement),
      predicateType: statement.predicateType,
      format,
    });
  }

  // Only TaskRuns get OCI image signatures (as in Chains).
  if (run.kind === 'TaskRun' && config.artifacts.oci.signer !== 'none') {
    const seen = new Set<string>();
    const warnings: ProvenanceWarnings = [];
    const images = extractImageSubjects(run, warnings);
    for (const w of warnings) logger?.[w.level](w.fields, w.message);
    for (const image of images) {
      const digest = image.digest['sha256'];
      if (digest === undefined) continue;
      const shortKey = imageShortKey(digest);
      if (seen.has(`${image.name}@${digest}`)) continue;
      seen.add(`${image.name}@${digest}`);
      out.push({
        type: 'image-signature',
        shortKey,
        checkpointKey: `image:${image.name}@sha256:${digest}`,
        section: 'oci',
        signer: config.artifacts.oci.signer,
        storage: config.artifacts.oci.storage,
        payload: simpleSigningPayload({ name: image.name, digest: `sha256:${digest}` }),
        subjects: [image],
      });
    }
  }
  return out;
}
