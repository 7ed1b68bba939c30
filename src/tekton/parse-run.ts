import { isDone } from './run-rules.js';
import { ProvenantError } from '../errors.js';
import type { RunKind } from './run-key.js';
import { checkRunLimits } from './run-limits.js';
import type {
  ChildReference,
  Condition,
  Param,
  ParamSpec,
  ParamValue,
  PipelineTask,
  RefSource,
  Run,
  RunProvenance,
  RunRef,
  RunResult,
  RunStatus,
  SidecarState,
  StepSpec,
  StepState,
} from './types.js';

type Obj = Record<string, unknown>;

function malformed(field: string, problem: string): ProvenantError {
  return new ProvenantError('input', 'RUN_MALFORMED', `run field ${field} ${problem}`, { context: { field } });
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, field: string): Obj {
  if (!isObj(v)) throw malformed(field, 'must be an object');
  return v;
}
function optObj(v: unknown, field: string): Obj | undefined {
  return v === undefined || v === null ? undefined : obj(v, field);
}
function optStr(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw malformed(field, 'must be a string');
  return v;
}
function str(v: unknown, field: string): string {
  const s = optStr(v, field);
  if (s === undefined) throw malformed(field, 'is missing');
  return s;
}
function arr(v: unknown, field: string): readonly unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw malformed(field, 'must be an array');
  return v;
}
function strMap(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const o = obj(v, field);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) out[k] = str(x, `${field}.${k}`);
  return out;
}
function strList(v: unknown, field: string): string[] {
  return arr(v, field).map((x, i) => str(x, `${field}[${i}]`));
}
function optTime(v: unknown, field: string): string | undefined {
  const s = optStr(v, field);
  if (s === undefined || s === '') return undefined;
  if (Number.isNaN(Date.parse(s))) throw malformed(field, 'is not an RFC 3339 time');
  return s;
}

/** Tekton ParamValue: string, array of strings, object of strings; other scalars kept as their JSON text. */
export function parseParamValue(v: unknown, field: string): ParamValue {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return v.map((x, i) => str(x, `${field}[${i}]`));
  if (isObj(v)) return strMap(v, field) ?? {};
  throw malformed(field, 'must be a string, an array or an object');
}

function parseParams(v: unknown, field: string): Param[] {
  return arr(v, field).map((p, i) => {
    const o = obj(p, `${field}[${i}]`);
    return { name: str(o['name'], `${field}[${i}].name`), value: parseParamValue(o['value'] ?? '', `${field}[${i}].value`) };
  });
}

function parseParamSpecs(v: unknown, field: string): ParamSpec[] {
  return arr(v, field).map((p, i) => {
    const o = obj(p, `${field}[${i}]`);
    const name = str(o['name'], `${field}[${i}].name`);
    return o['default'] === undefined || o['default'] === null
      ? { name }
      : { name, default: parseParamValue(o['default'], `${field}[${i}].default`) };
  });
}

function parseResults(v: unknown, field: string): RunResult[] {
  return arr(v, field).map((r, i) => {
    const o = obj(r, `${field}[${i}]`);
    const name = str(o['name'], `${field}[${i}].name`);
    const value = parseParamValue(o['value'] ?? '', `${field}[${i}].value`);
    const type = optStr(o['type'], `${field}[${i}].type`);
    return type === undefined || type === '' ? { name, value } : { name, type, value };
  });
}

function parseRefSource(v: unknown, field: string): RefSource | undefined {
  const o = optObj(v, field);
  if (o === undefined) return undefined;
  return {
    uri: optStr(o['uri'], `${field}.uri`) ?? '',
    digest: strMap(o['digest'], `${field}.digest`) ?? {},
    entryPoint: optStr(o['entryPoint'], `${field}.entryPoint`) ?? '',
  };
}

function parseProvenance(v: unknown, field: string): RunProvenance | undefined {
  const o = optObj(v, field);
  if (o === undefined) return undefined;
  const refSource = parseRefSource(o['refSource'], `${field}.refSource`);
  const featureFlags = optObj(o['featureFlags'], `${field}.featureFlags`);
  return { ...(refSource ? { refSource } : {}), ...(featureFlags ? { featureFlags } : {}) };
}

function parseConditions(v: unknown, field: string): Condition[] {
  return arr(v, field).map((c, i) => {
    const o = obj(c, `${field}[${i}]`);
    const reason = optStr(o['reason'], `${field}[${i}].reason`);
    const message = optStr(o['message'], `${field}[${i}].message`);
    return {
      type: str(o['type'], `${field}[${i}].type`),
      status: str(o['status'], `${field}[${i}].status`),
      ...(reason !== undefined ? { reason } : {}),
      ...(message !== undefined ? { message } : {}),
    };
  });
}

function parseSteps(v: unknown, field: string): StepState[] {
  return arr(v, field).map((s, i) => {
    const f = `${field}[${i}]`;
    const o = obj(s, f);
    const container = optStr(o['container'], `${f}.container`);
    const provenance = parseProvenance(o['provenance'], `${f}.provenance`);
    return {
      name: optStr(o['name'], `${f}.name`) ?? '',
      ...(container !== undefined ? { container } : {}),
      imageID: optStr(o['imageID'], `${f}.imageID`) ?? '',
      results: parseResults(o['results'], `${f}.results`),
      ...(provenance ? { provenance } : {}),
    };
  });
}

function parseSidecars(v: unknown, field: string): SidecarState[] {
  return arr(v, field).map((s, i) => {
    const o = obj(s, `${field}[${i}]`);
    return { name: optStr(o['name'], `${field}[${i}].name`) ?? '', imageID: optStr(o['imageID'], `${field}[${i}].imageID`) ?? '' };
  });
}

function parseStepSpecs(v: unknown, field: string): StepSpec[] {
  return arr(v, field).map((s, i) => {
    const f = `${field}[${i}]`;
    const o = obj(s, f);
    const script = optStr(o['script'], `${f}.script`);
    return {
      name: optStr(o['name'], `${f}.name`) ?? '',
      ...(o['command'] !== undefined && o['command'] !== null ? { command: strList(o['command'], `${f}.command`) } : {}),
      ...(o['args'] !== undefined && o['args'] !== null ? { args: strList(o['args'], `${f}.args`) } : {}),
      ...(script !== undefined ? { script } : {}),
    };
  });
}

function collectStrings(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) collectStrings(x, out);
  else if (isObj(v)) for (const x of Object.values(v)) collectStrings(x, out);
}

function parsePipelineTasks(v: unknown, field: string): PipelineTask[] {
  return arr(v, field).map((t, i) => {
    const f = `${field}[${i}]`;
    const o = obj(t, f);
    const referenceStrings: string[] = [];
    collectStrings(o['params'], referenceStrings);
    collectStrings(o['when'], referenceStrings);
    const taskRef = optObj(o['taskRef'], `${f}.taskRef`);
    return {
      name: str(o['name'], `${f}.name`),
      runAfter: strList(o['runAfter'], `${f}.runAfter`),
      ...(taskRef ? { taskRef } : {}),
      referenceStrings,
    };
  });
}

function parseRef(v: unknown, field: string): RunRef | undefined {
  const o = optObj(v, field);
  if (o === undefined) return undefined;
  // v1beta1 bundles are the `bundles` resolver in v1.
  const resolver = optStr(o['resolver'], `${field}.resolver`) ?? (typeof o['bundle'] === 'string' && o['bundle'] !== '' ? 'bundles' : '');
  return { raw: o, resolver };
}

/** v1beta1 → v1 spec conversion for the fields whose name or place changed. */
function convertSpecToV1(kind: RunKind, spec: Obj): Obj {
  const out: Obj = { ...spec };
  delete out['resources'];
  if (kind === 'TaskRun') {
    if ('stepOverrides' in out) {
      out['stepSpecs'] = out['stepOverrides'];
      delete out['stepOverrides'];
    }
    if ('sidecarOverrides' in out) {
      out['sidecarSpecs'] = out['sidecarOverrides'];
      delete out['sidecarOverrides'];
    }
    return out;
  }
  const template: Obj = isObj(out['taskRunTemplate']) ? { ...out['taskRunTemplate'] } : {};
  if (out['serviceAccountName'] !== undefined) {
    template['serviceAccountName'] = out['serviceAccountName'];
    delete out['serviceAccountName'];
  }
  if (out['podTemplate'] !== undefined) {
    template['podTemplate'] = out['podTemplate'];
    delete out['podTemplate'];
  }
  out['taskRunTemplate'] = template;
  if (out['timeout'] !== undefined) {
    out['timeouts'] = { ...(isObj(out['timeouts']) ? out['timeouts'] : {}), pipeline: out['timeout'] };
    delete out['timeout'];
  }
  if (Array.isArray(out['taskRunSpecs'])) {
    out['taskRunSpecs'] = out['taskRunSpecs'].map((s: unknown) => {
      if (!isObj(s)) return s;
      const c: Obj = { ...s };
      if ('taskServiceAccountName' in c) {
        c['serviceAccountName'] = c['taskServiceAccountName'];
        delete c['taskServiceAccountName'];
      }
      if ('taskPodTemplate' in c) {
        c['podTemplate'] = c['taskPodTemplate'];
        delete c['taskPodTemplate'];
      }
      return c;
    });
  }
  return out;
}

const isEmpty = (v: unknown): boolean =>
  v === undefined || v === null || v === '' || v === 0 || v === false || (Array.isArray(v) && v.length === 0);

/**
 * Shapes a v1 spec like Go encoding/json output of TaskRunSpec / PipelineRunSpec: non-pointer
 * `omitempty` fields vanish when empty, fields without `omitempty` are always present.
 */
export function goJsonRunSpec(kind: RunKind, spec: Obj): Obj {
  const out: Obj = {};
  const omitEmpty =
    kind === 'TaskRun'
      ? new Set(['params', 'status', 'statusMessage', 'retries', 'workspaces', 'stepSpecs', 'sidecarSpecs'])
      : new Set(['params', 'status', 'workspaces', 'taskRunSpecs']);
  for (const [k, v] of Object.entries(spec)) {
    if (v === null || v === undefined) continue;
    if (omitEmpty.has(k) && isEmpty(v)) continue;
    out[k] = v;
  }
  if (kind === 'TaskRun') {
    if (!('serviceAccountName' in out)) out['serviceAccountName'] = '';
  } else {
    const t: Obj = isObj(out['taskRunTemplate']) ? { ...out['taskRunTemplate'] } : {};
    for (const k of ['serviceAccountName', 'podTemplate']) if (isEmpty(t[k])) delete t[k];
    out['taskRunTemplate'] = t;
  }
  return out;
}

function kindOf(o: Obj, hint: RunKind | undefined): RunKind {
  const k = o['kind'];
  if (k === 'TaskRun' || k === 'PipelineRun') {
    if (hint !== undefined && hint !== k) throw malformed('kind', `is ${k}, expected ${hint}`);
    return k;
  }
  if (k !== undefined && k !== null) throw malformed('kind', 'must be TaskRun or PipelineRun');
  if (hint !== undefined) return hint;
  // Fixtures often omit kind: a PipelineRun has pipelineRef/pipelineSpec.
  const spec = isObj(o['spec']) ? o['spec'] : {};
  const status = isObj(o['status']) ? o['status'] : {};
  return 'pipelineRef' in spec || 'pipelineSpec' in spec || 'pipelineSpec' in status || 'childReferences' in status || 'taskRuns' in status
    ? 'PipelineRun'
    : 'TaskRun';
}

export interface ParseRunOptions {
  /** Expected kind; otherwise `kind` of the object, else guessed from its shape. */
  readonly kind?: RunKind;
  /**
   * Default true: `metadata` and `metadata.name` are required. The `provenance` CLI turns this off
   * to accept Tekton Chains' unit-test fixtures, some of which have no metadata at all.
   */
  readonly requireMetadata?: boolean;
}

/**
 * Validates an untrusted TaskRun / PipelineRun object (tekton.dev/v1 or v1beta1) and returns the
 * v1-normalised view. Throws `RUN_MALFORMED` (kind `input`) naming the offending field.
 */
export function parseRun(input: unknown, options: ParseRunOptions = {}): Run {
  const o = obj(input, '<root>');
  checkRunLimits(o);
  const kind = kindOf(o, options.kind);
  const apiVersion = optStr(o['apiVersion'], 'apiVersion') ?? 'tekton.dev/v1';
  if (apiVersion !== 'tekton.dev/v1' && apiVersion !== 'tekton.dev/v1beta1') throw malformed('apiVersion', 'must be tekton.dev/v1 or tekton.dev/v1beta1');
  const requireMetadata = options.requireMetadata ?? true;
  const metadata = requireMetadata ? obj(o['metadata'], 'metadata') : (optObj(o['metadata'], 'metadata') ?? {});
  const name = requireMetadata ? str(metadata['name'], 'metadata.name') : (optStr(metadata['name'], 'metadata.name') ?? '');
  const rawSpec = optObj(o['spec'], 'spec') ?? {};
  const rawStatus = o['status'];
  if (rawStatus === undefined || rawStatus === null) throw malformed('status', 'is missing');
  const st = obj(rawStatus, 'status');

  const v1Spec = apiVersion === 'tekton.dev/v1beta1' ? convertSpecToV1(kind, rawSpec) : rawSpec;
  const params = parseParams(v1Spec['params'], 'spec.params');
  const ref = parseRef(kind === 'TaskRun' ? v1Spec['taskRef'] : v1Spec['pipelineRef'], kind === 'TaskRun' ? 'spec.taskRef' : 'spec.pipelineRef');
  let serviceAccountName: string | undefined;
  const taskServiceAccountNames: Record<string, string> = {};
  if (kind === 'TaskRun') {
    serviceAccountName = optStr(v1Spec['serviceAccountName'], 'spec.serviceAccountName');
  } else {
    const t = optObj(v1Spec['taskRunTemplate'], 'spec.taskRunTemplate');
    serviceAccountName = optStr(t?.['serviceAccountName'], 'spec.taskRunTemplate.serviceAccountName');
    arr(v1Spec['taskRunSpecs'], 'spec.taskRunSpecs').forEach((s, i) => {
      const so = obj(s, `spec.taskRunSpecs[${i}]`);
      const task = optStr(so['pipelineTaskName'], `spec.taskRunSpecs[${i}].pipelineTaskName`);
      const sa = optStr(so['serviceAccountName'], `spec.taskRunSpecs[${i}].serviceAccountName`);
      if (task && sa) taskServiceAccountNames[task] = sa;
    });
  }

  // v1beta1 status: taskResults / pipelineResults → results; status.taskRuns map → childReferences.
  const resultsField = st['results'] !== undefined ? 'results' : kind === 'TaskRun' ? 'taskResults' : 'pipelineResults';
  const results = parseResults(st[resultsField], `status.${resultsField}`);
  const childReferences: ChildReference[] = arr(st['childReferences'], 'status.childReferences').map((c, i) => {
    const co = obj(c, `status.childReferences[${i}]`);
    return {
      name: str(co['name'], `status.childReferences[${i}].name`),
      pipelineTaskName: optStr(co['pipelineTaskName'], `status.childReferences[${i}].pipelineTaskName`) ?? '',
      kind: optStr(co['kind'], `status.childReferences[${i}].kind`) ?? 'TaskRun',
    };
  });
  if (childReferences.length === 0 && isObj(st['taskRuns'])) {
    for (const [trName, v] of Object.entries(st['taskRuns'])) {
      const co = obj(v, `status.taskRuns.${trName}`);
      childReferences.push({ name: trName, pipelineTaskName: optStr(co['pipelineTaskName'], `status.taskRuns.${trName}.pipelineTaskName`) ?? '', kind: 'TaskRun' });
    }
  }

  const taskSpecRaw = optObj(st['taskSpec'], 'status.taskSpec');
  const pipelineSpecRaw = optObj(st['pipelineSpec'], 'status.pipelineSpec');
  const provenance = parseProvenance(st['provenance'], 'status.provenance');
  const startTime = optTime(st['startTime'], 'status.startTime');
  const completionTime = optTime(st['completionTime'], 'status.completionTime');
  const status: RunStatus = {
    ...(startTime ? { startTime } : {}),
    ...(completionTime ? { completionTime } : {}),
    conditions: parseConditions(st['conditions'], 'status.conditions'),
    results,
    steps: parseSteps(st['steps'], 'status.steps'),
    sidecars: parseSidecars(st['sidecars'], 'status.sidecars'),
    ...(taskSpecRaw
      ? { taskSpec: { params: parseParamSpecs(taskSpecRaw['params'], 'status.taskSpec.params'), steps: parseStepSpecs(taskSpecRaw['steps'], 'status.taskSpec.steps') } }
      : {}),
    ...(pipelineSpecRaw
      ? {
          pipelineSpec: {
            params: parseParamSpecs(pipelineSpecRaw['params'], 'status.pipelineSpec.params'),
            tasks: parsePipelineTasks(pipelineSpecRaw['tasks'], 'status.pipelineSpec.tasks'),
            finally: parsePipelineTasks(pipelineSpecRaw['finally'], 'status.pipelineSpec.finally'),
          },
        }
      : {}),
    ...(provenance ? { provenance } : {}),
    childReferences,
  };

  return {
    kind,
    apiVersion,
    name,
    namespace: optStr(metadata['namespace'], 'metadata.namespace') ?? '',
    uid: optStr(metadata['uid'], 'metadata.uid') ?? '',
    labels: strMap(metadata['labels'], 'metadata.labels'),
    annotations: strMap(metadata['annotations'], 'metadata.annotations'),
    spec: {
      params,
      ...(ref ? { ref } : {}),
      ...(serviceAccountName !== undefined ? { serviceAccountName } : {}),
      taskServiceAccountNames,
    },
    specJson: goJsonRunSpec(kind, v1Spec),
    status,
    raw: o,
  };
}

/** The `Succeeded` condition, if any. */
export function succeededCondition(run: Run): Condition | undefined {
  return run.status.conditions.find((c) => c.type === 'Succeeded');
}

/** The "done" rule (tekton/run-rules.ts) on a parsed run. */
export function isRunDone(run: Run): boolean {
  return isDone(run.raw);
}

/** Throws `RUN_NOT_DONE` (kind `input`) unless the run is done. */
export function assertRunDone(run: Run): void {
  if (!isRunDone(run)) {
    throw new ProvenantError('input', 'RUN_NOT_DONE', `${run.kind} ${run.name} has not finished (no Succeeded condition with status True/False)`, {
      context: { run: `${run.kind.toLowerCase()}/${run.namespace}/${run.name}`, hint: 'wait until the run completes' },
    });
  }
}
