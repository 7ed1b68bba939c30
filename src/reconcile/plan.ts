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
  type InTotoStatement,
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

/**
 * The platform manifests of built images that are indexes (`artifacts.oci.sign-index-manifests`),
 * by `platformKey(name, hex)` of the index; read by the caller before planning (planning stays pure).
 */
export type PlatformManifestMap = ReadonlyMap<string, readonly { readonly digest: string }[]>;

export const platformKey = (name: string, sha256Hex: string): string => `${name}@sha256:${sha256Hex}`;

/**
 * The images whose index the caller reads when `artifacts.oci.sign-index-manifests` is on: a TaskRun's
 * built images (Chains' image results), a PipelineRun's children's. Empty when the flag is off.
 */
export function indexCandidates(input: { run: Run; children: readonly Run[]; config: Config }): ArtifactSubject[] {
  if (!input.config.artifacts.oci.signIndexManifests) return [];
  const out: ArtifactSubject[] = [];
  for (const r of [input.run, ...input.children]) {
    for (const image of extractImageSubjects(r)) {
      const hex = image.digest['sha256'];
      if (hex !== undefined && !out.some((o) => o.name === image.name && o.digest['sha256'] === hex)) out.push(image);
    }
  }
  return out;
}

/** Each subject that is a known index followed by its platform manifests (same name), not repeating any subject. */
function withPlatformSubjects(statement: InTotoStatement, platforms: PlatformManifestMap): InTotoStatement {
  if (statement.subject === undefined || platforms.size === 0) return statement;
  const subject: NonNullable<InTotoStatement['subject']>[number][] = [];
  const has = (name: string, hex: string): boolean => subject.some((s) => s.name === name && s.digest['sha256'] === hex);
  for (const s of statement.subject) {
    const hex = s.digest['sha256'];
    if (hex === undefined || !has(s.name, hex)) subject.push(s);
    for (const m of hex === undefined ? [] : (platforms.get(platformKey(s.name, hex)) ?? [])) {
      const mHex = m.digest.replace(/^sha256:/, '');
      if (!has(s.name, mHex)) subject.push({ name: s.name, digest: { sha256: mHex } });
    }
  }
  return { ...statement, subject };
}

export function planArtifacts(input: { run: Run; children: readonly Run[]; config: Config; logger?: Logger; platforms?: PlatformManifestMap }): PlannedArtifact[] {
  const { run, children, config, logger } = input;
  const platforms: PlatformManifestMap = config.artifacts.oci.signIndexManifests ? (input.platforms ?? new Map()) : new Map();
  const section = run.kind === 'TaskRun' ? 'taskrun' : 'pipelinerun';
  const artifactConfig = config.artifacts[section];
  const out: PlannedArtifact[] = [];

  // Chains: signer "none" disables the artifact entirely.
  if (artifactConfig.signer !== 'none') {
    const format = formatFor(config, run.kind);
    const composed = composeProvenance({ format, run, children, options: optionsFromConfig(config, run.kind) });
    for (const w of composed.warnings) logger?.[w.level](w.fields, w.message);
    const statement = withPlatformSubjects(composed.statement, platforms);
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
    // An index's platform manifests follow it (each signed on its own digest, tektoncd/chains#1070).
    const withPlatforms = images.flatMap((image) => {
      const hex = image.digest['sha256'];
      const manifests = hex === undefined ? [] : (platforms.get(platformKey(image.name, hex)) ?? []);
      return [image, ...manifests.map((m) => ({ name: image.name, digest: { sha256: m.digest.replace(/^sha256:/, '') } }))];
    });
    for (const image of withPlatforms) {
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
