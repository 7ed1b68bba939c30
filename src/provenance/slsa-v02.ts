import type { Run, PipelineTask } from '../tekton/index.js';
import { lastAppliedConfigAnnotation, reproducibleLabel, chainsPrefix } from '../tekton/index.js';
import { appendArtifacts, type DigestedArtifact } from './artifacts.js';
import { paramValueJson, rfc3339Utc, sortKeysDeep } from './go-json.js';
import { makeStatement, predicateTypeSlsaV02, statementTypeV01, type FormatInput, type InTotoStatement, type ProvenanceFormat, type ProvenanceWarnings } from './statement.js';
import {
  executedTaskRuns,
  ociScheme,
  pipelineInputMaterials,
  pipelineRunSubjects,
  sidecarImageMaterials,
  stepImageMaterials,
  subjectsFromResults,
  taskInputMaterials,
} from './type-hinting.js';
import type { ParamSpec, Param } from '../tekton/index.js';

/**
 * SLSA v0.2 predicate in an in-toto v0.1 statement (Chains formats `in-toto` and `slsa/v1`).
 * Shapes follow Go encoding/json of the in-toto-golang structs, then protojson of a Struct
 * (keys sorted).
 */

type Obj = Record<string, unknown>;

function invocation(run: Run, params: readonly Param[], specs: readonly ParamSpec[]): Obj {
  const rs = run.status.provenance?.refSource;
  const configSource: Obj = {};
  if (rs) {
    if (rs.uri !== '') configSource['uri'] = rs.uri;
    if (Object.keys(rs.digest).length > 0) configSource['digest'] = { ...rs.digest };
    if (rs.entryPoint !== '') configSource['entryPoint'] = rs.entryPoint;
  }
  const parameters: Obj = {};
  for (const p of specs) if (p.default !== undefined) parameters[p.name] = paramValueJson(p.default);
  for (const p of params) parameters[p.name] = paramValueJson(p.value);
  const environment: Obj = {};
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(run.annotations ?? {})) {
    if (k === lastAppliedConfigAnnotation || k.startsWith(chainsPrefix)) continue;
    annotations[k] = v;
  }
  if (Object.keys(annotations).length > 0) environment['annotations'] = annotations;
  if (run.labels && Object.keys(run.labels).length > 0) environment['labels'] = { ...run.labels };
  const inv: Obj = { configSource, parameters };
  if (Object.keys(environment).length > 0) inv['environment'] = environment;
  return inv;
}

function step(spec: { command?: readonly string[]; args?: readonly string[]; script?: string } | undefined, state: { name: string; imageID: string }): Obj {
  let entryPoint = (spec?.command ?? []).join(' ');
  if (spec?.script) entryPoint = spec.script;
  return {
    entryPoint,
    arguments: spec?.args ? [...spec.args] : null,
    environment: { image: ociScheme + state.imageID.replace(/^docker-pullable:\/\//, ''), container: state.name },
    annotations: null,
  };
}

function metadata(run: Run): Obj {
  const m: Obj = {};
  if (run.status.startTime) m['buildStartedOn'] = rfc3339Utc(run.status.startTime);
  if (run.status.completionTime) m['buildFinishedOn'] = rfc3339Utc(run.status.completionTime);
  m['completeness'] = { parameters: false, environment: false, materials: false };
  m['reproducible'] = run.labels?.[reproducibleLabel] === 'true';
  return m;
}

function materialsJson(mats: readonly DigestedArtifact[]): Obj[] {
  return mats.map((m) => ({ uri: m.name, digest: { ...m.digest } }));
}

function taskStatus(run: Run): string {
  const c = run.status.conditions[0];
  if (!c) return '';
  return c.status === 'False' ? 'Failed' : c.status === 'True' ? 'Succeeded' : c.status === 'Unknown' ? 'Running' : '';
}

const resultRef = /\$\(tasks\.([^.)\s]+)\.results\.[^)]*\)/g;

function afterOf(task: PipelineTask): string[] {
  const after = [...task.runAfter];
  for (const s of task.referenceStrings) {
    for (const m of s.matchAll(resultRef)) {
      const name = m[1] ?? '';
      if (name !== '' && !after.includes(name)) after.push(name);
    }
  }
  return after;
}

function pipelineBuildConfig(run: Run, children: readonly Run[], log: ProvenanceWarnings | undefined): Obj {
  const spec = run.status.pipelineSpec;
  if (!spec) return { tasks: null };
  const tasks: Obj[] = [];
  let last = '';
  const seen = new Set<string>();
  for (const { task, run: tr, isFinally } of executedTaskRuns(run, children)) {
    if (seen.has(task.name)) continue; // Chains reads one TaskRun per pipeline task here
    seen.add(task.name);
    const specSteps = tr.status.taskSpec?.steps ?? [];
    if (tr.status.steps.length > specSteps.length) {
      log?.push({ level: 'warn', fields: { task: task.name, taskRun: tr.name }, message: 'provenance: status.steps do not match status.taskSpec.steps; task left out of buildConfig' });
      continue;
    }
    const steps = tr.status.steps.map((s, i) => step(specSteps[i], s));
    let after = afterOf(task);
    if (after.length === 0 && isFinally && last !== '') after = [last];
    const t: Obj = { name: task.name };
    if (after.length > 0) t['after'] = after;
    t['ref'] = task.taskRef ? { ...task.taskRef } : {};
    t['startedOn'] = tr.status.startTime ? rfc3339Utc(tr.status.startTime) : '0001-01-01T00:00:00Z';
    t['finishedOn'] = tr.status.completionTime ? rfc3339Utc(tr.status.completionTime) : '0001-01-01T00:00:00Z';
    const sa = run.spec.taskServiceAccountNames[task.name] ?? run.spec.serviceAccountName ?? '';
    if (sa !== '') t['serviceAccountName'] = sa;
    const status = taskStatus(tr);
    if (status !== '') t['status'] = status;
    if (steps.length > 0) t['steps'] = steps;
    t['invocation'] = invocation(tr, tr.spec.params, tr.status.taskSpec?.params ?? []);
    if (tr.status.results.length > 0) {
      t['results'] = tr.status.results.map((r) => (r.type !== undefined ? { name: r.name, type: r.type, value: paramValueJson(r.value) } : { name: r.name, value: paramValueJson(r.value) }));
    }
    tasks.push(t);
    if (!isFinally) last = task.name;
  }
  return { tasks };
}

function taskRunMaterials(run: Run, log: ProvenanceWarnings | undefined): DigestedArtifact[] {
  let mats = appendArtifacts([], ...stepImageMaterials(run, log));
  mats = appendArtifacts(mats, ...sidecarImageMaterials(run, log));
  return appendArtifacts(mats, ...taskInputMaterials(run, log));
}

function pipelineRunMaterials(run: Run, children: readonly Run[], deep: boolean, log: ProvenanceWarnings | undefined): DigestedArtifact[] {
  let mats: DigestedArtifact[] = [];
  const rs = run.status.provenance?.refSource;
  if (rs) mats = appendArtifacts(mats, { name: rs.uri, digest: rs.digest });
  const seen = new Set<string>();
  for (const { task, run: tr } of executedTaskRuns(run, children)) {
    if (seen.has(task.name)) continue;
    seen.add(task.name);
    mats = appendArtifacts(mats, ...stepImageMaterials(tr, log));
    mats = appendArtifacts(mats, ...sidecarImageMaterials(tr, log));
    const trs = tr.status.provenance?.refSource;
    if (trs) mats = appendArtifacts(mats, { name: trs.uri, digest: trs.digest });
  }
  return appendArtifacts(mats, ...pipelineInputMaterials(run, children, deep, log));
}


function build({ run, children, options, warnings: logger }: FormatInput): InTotoStatement {
  const isTask = run.kind === 'TaskRun';
  const subjects = isTask ? subjectsFromResults(run.status.results, logger) : pipelineRunSubjects(run, children, options.deepInspection, logger);
  const mats = isTask ? taskRunMaterials(run, logger) : pipelineRunMaterials(run, children, options.deepInspection, logger);
  const predicate: Obj = {
    builder: { id: options.builderId },
    buildType: `tekton.dev/v1/${run.kind}`,
    invocation: isTask
      ? invocation(run, run.spec.params, run.status.taskSpec?.params ?? [])
      : invocation(run, run.spec.params, run.status.pipelineSpec?.params ?? []),
    buildConfig: isTask
      ? {
          steps: run.status.steps.map((s) =>
            step(
              run.status.taskSpec?.steps.find((x) => x.name === s.name),
              s,
            ),
          ),
        }
      : pipelineBuildConfig(run, children, logger),
    metadata: metadata(run),
  };
  if (mats.length > 0) predicate['materials'] = materialsJson(mats);
  return makeStatement(statementTypeV01, subjects, predicateTypeSlsaV02, sortKeysDeep(predicate) as Obj);
}

export const slsaV02Format: ProvenanceFormat = {
  statementType: statementTypeV01,
  predicateType: predicateTypeSlsaV02,
  build,
};
