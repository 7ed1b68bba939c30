import type { Config, FormatName } from '../config/index.js';
import type { Run, RunKind } from '../tekton/index.js';
import { formats } from './formats.js';
import type { ArtifactSubject, InTotoStatement, ProvenanceOptions, ProvenanceWarning, ProvenanceWarnings } from './statement.js';
import { extractOciImages } from './type-hinting.js';

export interface ComposeInput {
  readonly format: FormatName;
  readonly run: Run;
  readonly children: readonly Run[];
  readonly options: ProvenanceOptions;
}

/**
 * Builds the in-toto statement for a run in the given format, with what was left out as warnings
 * (data, for the caller to log). Pure: no I/O, clock, env or logger.
 */
export function composeProvenance(input: ComposeInput): { statement: InTotoStatement; warnings: readonly ProvenanceWarning[] } {
  const options: ProvenanceOptions = { ...input.options, deepInspection: input.run.kind === 'PipelineRun' && input.options.deepInspection };
  const warnings: ProvenanceWarnings = [];
  const statement = formats[input.format].build({ run: input.run, children: input.children, options, warnings });
  return { statement, warnings };
}

/** `composeProvenance` without the warnings. */
export function composeStatement(input: ComposeInput): InTotoStatement {
  return composeProvenance(input).statement;
}

/** The exact bytes that get signed: compact JSON of the statement. */
export function serializeStatement(s: InTotoStatement): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(s));
}

export function statementSubjects(s: InTotoStatement): ArtifactSubject[] {
  return (s.subject ?? []).map((x) => ({ name: x.name, digest: { ...x.digest } }));
}

export function predicateTypeOf(format: FormatName): string {
  return formats[format].predicateType;
}

export function statementTypeOf(format: FormatName): string {
  return formats[format].statementType;
}

/**
 * Images a TaskRun built (type-hinted results), for OCI `.sig` simple signing. PipelineRuns get
 * none, like Chains. Duplicates (same repository and digest) are listed once.
 */
export function extractImageSubjects(run: Run, warnings?: ProvenanceWarnings): ArtifactSubject[] {
  if (run.kind !== 'TaskRun') return [];
  const out: ArtifactSubject[] = [];
  const seen = new Set<string>();
  for (const img of extractOciImages(run.status.results, warnings)) {
    const key = `${img.repository}@${img.digest}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const [alg = 'sha256', hex = ''] = img.digest.split(':');
    out.push({ name: img.repository, digest: { [alg]: hex } });
  }
  return out;
}

export function formatFor(config: Config, kind: RunKind): FormatName {
  return kind === 'TaskRun' ? config.artifacts.taskrun.format : config.artifacts.pipelinerun.format;
}

export function optionsFromConfig(config: Config, kind: RunKind): ProvenanceOptions {
  return {
    builderId: config.builder.id,
    buildType: config.buildDefinition.buildType,
    deepInspection: kind === 'PipelineRun' && config.artifacts.pipelinerun.enableDeepInspection,
  };
}
