import type { BuildType } from '../config/index.js';
import type { Run } from '../tekton/index.js';

export const statementTypeV01 = 'https://in-toto.io/Statement/v0.1';
export const statementTypeV1 = 'https://in-toto.io/Statement/v1';
export const predicateTypeSlsaV02 = 'https://slsa.dev/provenance/v0.2';
export const predicateTypeSlsaV1 = 'https://slsa.dev/provenance/v1';

export interface StatementSubject {
  readonly name: string;
  readonly digest: Readonly<Record<string, string>>;
}

/** An in-toto statement as a plain JSON-serialisable object, keys in the order Chains emits them. */
export interface InTotoStatement {
  readonly _type: string;
  /** Absent when the run produced nothing (Chains/protojson omit the empty list). */
  readonly subject?: readonly StatementSubject[];
  readonly predicateType: string;
  readonly predicate: Readonly<Record<string, unknown>>;
}

export interface ProvenanceOptions {
  builderId: string;
  buildType: BuildType;
  deepInspection: boolean;
}

export interface FormatInput {
  readonly run: Run;
  /** Child TaskRuns of a PipelineRun (matched to pipeline tasks by label `tekton.dev/pipelineTask`). */
  readonly children: readonly Run[];
  readonly options: ProvenanceOptions;
  /** Where dropped or odd inputs are reported, as data (the caller logs them). */
  readonly warnings?: ProvenanceWarnings | undefined;
}

/** One provenance format: one file, one entry in the typed registry (`formats.ts`). */
export interface ProvenanceFormat {
  readonly statementType: string;
  readonly predicateType: string;
  build(input: FormatInput): InTotoStatement;
}

/** Assembles a statement with Chains' top-level key order; `subject` only when non-empty. */
export function makeStatement(
  statementType: string,
  subjects: readonly StatementSubject[],
  predicateType: string,
  predicate: Readonly<Record<string, unknown>>,
): InTotoStatement {
  return subjects.length > 0
    ? { _type: statementType, subject: subjects.map((s) => ({ name: s.name, digest: { ...s.digest } })), predicateType, predicate }
    : { _type: statementType, predicateType, predicate };
}

/** Something the provenance left out or noticed, returned as data (like config/parse.ts's warnings). */
export interface ProvenanceWarning {
  readonly level: 'warn' | 'debug';
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A list the pure functions append their warnings to. */
export type ProvenanceWarnings = ProvenanceWarning[];

/** An artifact subject: an image or file the signed payload is about. */
export interface ArtifactSubject {
  /** Image reference without digest (e.g. `registry.example/app`), or an artifact URI. */
  readonly name: string;
  /** `{ sha256: '<hex>' }` etc. */
  readonly digest: Readonly<Record<string, string>>;
}
