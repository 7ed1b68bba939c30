import type { Logger } from '../observability/logger.js';
import type { Run, RunResult } from '../tekton/index.js';
import type { DigestedArtifact } from './artifacts.js';
import { goJsonParamValue, rfc3339Utc, sortKeysDeep } from './go-json.js';
import { goMarshal } from './go-marshal.js';
import { makeStatement, predicateTypeSlsaV1, statementTypeV1, type InTotoStatement, type ProvenanceOptions } from './statement.js';
import {
  buildArtifactStatus,
  executedTaskRuns,
  imageDigestSuffix,
  imagesResult,
  imageUrlSuffix,
  pipelineInputMaterials,
  sidecarImageMaterials,
  stepActionInputMaterials,
  stepImageMaterials,
  taskInputMaterials,
} from './type-hinting.js';

/**
 * Shared pieces of the SLSA v1.0 formats (`slsa/v2alpha3`, `slsa/v2alpha4`): protojson of the
 * in-toto v1 Statement, predicate as a Struct (keys sorted), ResourceDescriptor fields omitted
 * when empty, bytes as std base64.
 */

type Obj = Record<string, unknown>;

export interface ResourceDescriptor {
  readonly name?: string;
  readonly uri?: string;
  readonly digest?: Readonly<Record<string, string>>;
  /** std base64 */
  readonly content?: string;
  readonly mediaType?: string;
}

const slsaBuildType = 'https://tekton.dev/chains/v2/slsa';

function descriptorJson(d: ResourceDescriptor): Obj {
  const o: Obj = {};
  if (d.name) o['name'] = d.name;
  if (d.uri) o['uri'] = d.uri;
  if (d.digest && Object.keys(d.digest).length > 0) o['digest'] = { ...d.digest };
  if (d.content) o['content'] = d.content;
  if (d.mediaType) o['mediaType'] = d.mediaType;
  return o;
}

const named = (mats: readonly DigestedArtifact[], name: string): ResourceDescriptor[] =>
  mats.map((m) => (name === '' ? { uri: m.name, digest: m.digest } : { name, uri: m.name, digest: m.digest }));

/** Chains `RemoveDuplicateResolvedDependencies`: same uri+digest+content is a duplicate, except top-level task/pipeline. */
export function removeDuplicateDependencies(deps: readonly ResourceDescriptor[]): ResourceDescriptor[] {
  const seen = new Set<string>();
  const out: ResourceDescriptor[] = [];
  for (const d of deps) {
    const key = JSON.stringify(sortKeysDeep({ uri: d.uri ?? '', digest: d.digest ?? {}, content: d.content ?? '' }));
    if (seen.has(key) && !(d.name === 'task' || d.name === 'pipeline')) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}

function taskDependencies(run: Run, withStepActions: boolean, log: Logger | undefined): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [...named([...stepImageMaterials(run, log), ...sidecarImageMaterials(run, log)], '')];
  if (withStepActions) {
    for (const s of run.status.steps) {
      const rs = s.provenance?.refSource;
      if (rs) deps.push({ name: `stepAction/${s.name}`, uri: rs.uri, digest: rs.digest });
    }
    deps.push(...named(stepActionInputMaterials(run, log), 'inputs/result'));
  }
  deps.push(...named(taskInputMaterials(run, log), 'inputs/result'));
  return removeDuplicateDependencies(deps);
}

export function taskRunDependencies(run: Run, withStepActions: boolean, log: Logger | undefined): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [];
  const rs = run.status.provenance?.refSource;
  if (rs) deps.push({ name: 'task', uri: rs.uri, digest: rs.digest });
  deps.push(...taskDependencies(run, withStepActions, log));
  return deps;
}

/**
 * Chains' `AddTektonTaskDescriptor`: `json.Marshal` of the child as a Go `v1.TaskRun` (Go field order,
 * omitempty, unknown fields dropped). A v1beta1 child (CLI input only: the controller reads v1) gets its
 * v1 spec; its status fields that v1 renamed are mapped (taskResults → results), the rest is as received.
 */
function taskRunContent(tr: Run): string {
  if (tr.apiVersion === 'tekton.dev/v1') return goMarshal('v1.TaskRun', tr.raw);
  const status = typeof tr.raw['status'] === 'object' && tr.raw['status'] !== null ? { ...(tr.raw['status'] as Obj) } : {};
  if (status['results'] === undefined && status['taskResults'] !== undefined) status['results'] = status['taskResults'];
  return goMarshal('v1.TaskRun', { ...tr.raw, apiVersion: 'tekton.dev/v1', spec: tr.specJson, status });
}

export function pipelineRunDependencies(
  run: Run,
  children: readonly Run[],
  options: ProvenanceOptions,
  withStepActions: boolean,
  log: Logger | undefined,
): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [];
  const rs = run.status.provenance?.refSource;
  if (rs) deps.push({ name: 'pipeline', uri: rs.uri, digest: rs.digest });
  const executed = executedTaskRuns(run, children);
  const seen = new Set<string>();
  for (const { task, run: tr } of executed) {
    if (seen.has(task.name)) continue;
    seen.add(task.name);
    const trs = tr.status.provenance?.refSource;
    if (options.buildType === slsaBuildType) {
      if (trs) deps.push({ name: 'pipelineTask', uri: trs.uri, digest: trs.digest });
    } else {
      deps.push({
        name: 'pipelineTask',
        ...(trs ? { uri: trs.uri, digest: trs.digest } : {}),
        content: Buffer.from(taskRunContent(tr), 'utf8').toString('base64'),
      });
    }
    deps.push(...named([...stepImageMaterials(tr, log), ...sidecarImageMaterials(tr, log)], ''));
  }
  if (withStepActions && options.deepInspection) {
    for (const { run: tr } of executed) deps.push(...named(stepActionInputMaterials(tr, log), 'inputs/result'));
  }
  deps.push(...named(pipelineInputMaterials(run, children, options.deepInspection, log), 'inputs/result'));
  return removeDuplicateDependencies(deps);
}

/** Feature flags with Go json tags (lowerCamel), zero values omitted (all fields are omitempty). */
function featureFlagsJson(ff: Readonly<Record<string, unknown>>): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(ff)) {
    if (v === null || v === undefined || v === '' || v === false || v === 0) continue;
    out[k.charAt(0).toLowerCase() + k.slice(1)] = v;
  }
  return out;
}

export function internalParameters(run: Run, buildType: string): Obj {
  const out: Obj = {};
  const ff = run.status.provenance?.featureFlags;
  if (ff) out['tekton-pipelines-feature-flags'] = featureFlagsJson(ff);
  if (buildType !== slsaBuildType) {
    out['labels'] = run.labels ? { ...run.labels } : null;
    out['annotations'] = run.annotations ? { ...run.annotations } : null;
  }
  return out;
}

/** `buildConfigSource` only when the ref was resolved remotely (resolver other than "" / "Cluster"). */
export function externalParameters(run: Run): Obj {
  const out: Obj = {};
  const rs = run.status.provenance?.refSource;
  const resolver = run.spec.ref?.resolver ?? '';
  if (rs && resolver !== '' && resolver !== 'Cluster') {
    const first = Object.entries(rs.digest)[0];
    out['buildConfigSource'] = { ref: first ? `${first[0]}:${first[1]}` : '', repository: rs.uri, path: rs.entryPoint };
  }
  // Chains puts the Go TaskRunSpec/PipelineRunSpec in a structpb.Struct: json.Marshal of the Go type.
  out['runSpec'] = JSON.parse(goMarshal(run.kind === 'TaskRun' ? 'v1.TaskRunSpec' : 'v1.PipelineRunSpec', run.specJson)) as Obj;
  return out;
}

export function isOciImageResultName(name: string): boolean {
  return name.endsWith(imageUrlSuffix) || name.endsWith(imageDigestSuffix) || name === imagesResult;
}

/** A byproduct per result: content = std base64 of Go json.Marshal(ParamValue). */
export function resultByproducts(results: readonly RunResult[], nameOf: (r: RunResult) => string, filterBuildArtifacts: boolean): ResourceDescriptor[] {
  const out: ResourceDescriptor[] = [];
  for (const r of results) {
    if (filterBuildArtifacts && (buildArtifactStatus(r) !== 'no' || isOciImageResultName(r.name))) continue;
    out.push({ name: nameOf(r), content: Buffer.from(goJsonParamValue(r.value), 'utf8').toString('base64'), mediaType: 'application/json' });
  }
  return out;
}

export function slsaV1Statement(
  run: Run,
  subjects: readonly DigestedArtifact[],
  options: ProvenanceOptions,
  resolvedDependencies: readonly ResourceDescriptor[],
  byproducts: readonly ResourceDescriptor[],
): InTotoStatement {
  const buildDefinition: Obj = {
    buildType: options.buildType,
    externalParameters: externalParameters(run),
    internalParameters: internalParameters(run, options.buildType),
  };
  if (resolvedDependencies.length > 0) buildDefinition['resolvedDependencies'] = resolvedDependencies.map(descriptorJson);
  const metadata: Obj = {};
  if (run.uid !== '') metadata['invocationId'] = run.uid;
  if (run.status.startTime) metadata['startedOn'] = rfc3339Utc(run.status.startTime);
  if (run.status.completionTime) metadata['finishedOn'] = rfc3339Utc(run.status.completionTime);
  const runDetails: Obj = { builder: { id: options.builderId }, metadata };
  if (byproducts.length > 0) runDetails['byproducts'] = byproducts.map(descriptorJson);
  const predicate = sortKeysDeep({ buildDefinition, runDetails }) as Obj;
  return makeStatement(statementTypeV1, subjects, predicateTypeSlsaV1, predicate);
}
