import type { RunKind } from './run-key.js';

/**
 * The one internal view of a TaskRun / PipelineRun that provenant reads, whatever the API version
 * (tekton.dev/v1 or v1beta1, normalised to v1). Only what provenance needs is typed; the original
 * object is kept in `raw` and the v1 spec, shaped like Go `encoding/json` output, in `specJson`.
 */

/** Tekton ParamValue: a string, an array of strings or an object of strings. */
export type ParamValue = string | readonly string[] | Readonly<Record<string, string>>;

export interface Param {
  readonly name: string;
  readonly value: ParamValue;
}

export interface ParamSpec {
  readonly name: string;
  readonly default?: ParamValue;
}

export interface RunResult {
  readonly name: string;
  /** Present only when the run status carries it. */
  readonly type?: string;
  readonly value: ParamValue;
}

export interface RefSource {
  readonly uri: string;
  readonly digest: Readonly<Record<string, string>>;
  readonly entryPoint: string;
}

export interface RunProvenance {
  readonly refSource?: RefSource;
  /** Pipelines' feature flags as found in the status (key spelling as stored). */
  readonly featureFlags?: Readonly<Record<string, unknown>>;
}

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface StepState {
  readonly name: string;
  readonly container?: string;
  readonly imageID: string;
  readonly results: readonly RunResult[];
  readonly provenance?: RunProvenance;
}

export interface SidecarState {
  readonly name: string;
  readonly imageID: string;
}

export interface StepSpec {
  readonly name: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly script?: string;
}

/** A taskRef / pipelineRef, raw (as JSON) plus the resolver for remote-resolution checks. */
export interface RunRef {
  readonly raw: Readonly<Record<string, unknown>>;
  readonly resolver: string;
}

export interface PipelineTask {
  readonly name: string;
  readonly runAfter: readonly string[];
  readonly taskRef?: Readonly<Record<string, unknown>>;
  /** Every string found in params and when expressions, for `$(tasks.X.results.Y)` references. */
  readonly referenceStrings: readonly string[];
}

export interface ChildReference {
  readonly name: string;
  readonly pipelineTaskName: string;
  readonly kind: string;
}

export interface RunStatus {
  readonly startTime?: string;
  readonly completionTime?: string;
  readonly conditions: readonly Condition[];
  readonly results: readonly RunResult[];
  readonly steps: readonly StepState[];
  readonly sidecars: readonly SidecarState[];
  readonly taskSpec?: { readonly params: readonly ParamSpec[]; readonly steps: readonly StepSpec[] };
  readonly pipelineSpec?: {
    readonly params: readonly ParamSpec[];
    readonly tasks: readonly PipelineTask[];
    readonly finally: readonly PipelineTask[];
  };
  readonly provenance?: RunProvenance;
  readonly childReferences: readonly ChildReference[];
}

export interface Run {
  readonly kind: RunKind;
  /** The API version the object arrived in (`tekton.dev/v1` or `tekton.dev/v1beta1`). */
  readonly apiVersion: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  /** undefined when the object has none (Go nil map → JSON null). */
  readonly labels: Readonly<Record<string, string>> | undefined;
  readonly annotations: Readonly<Record<string, string>> | undefined;
  readonly spec: {
    readonly params: readonly Param[];
    /** taskRef (TaskRun) or pipelineRef (PipelineRun). */
    readonly ref?: RunRef;
    /** TaskRun: spec.serviceAccountName; PipelineRun: spec.taskRunTemplate.serviceAccountName. */
    readonly serviceAccountName?: string;
    /** PipelineRun: per pipeline task service account from spec.taskRunSpecs. */
    readonly taskServiceAccountNames: Readonly<Record<string, string>>;
  };
  /** The v1 spec as Go encoding/json would serialise it (for `externalParameters.runSpec`). */
  readonly specJson: Readonly<Record<string, unknown>>;
  readonly status: RunStatus;
  /** The object as received. */
  readonly raw: Readonly<Record<string, unknown>>;
}
