import { pipelineTaskLabel, type Run, type RunResult, type PipelineTask } from '../tekton/index.js';
import { appendArtifacts, type DigestedArtifact } from './artifacts.js';
import { checkDigest } from './digest.js';
import { parseImageDigestReference } from './docker-reference.js';
import type { ProvenanceWarnings } from './statement.js';

/**
 * Type hinting: which results name artifacts a run produced (subjects) or used (materials),
 * following Tekton Chains (pkg/artifacts, formats/slsa/extract, internal/material). Invalid
 * entries are dropped with a reason returned as a warning, never thrown.
 */

export const commitParam = 'CHAINS-GIT_COMMIT';
export const urlParam = 'CHAINS-GIT_URL';
export const artifactInputsSuffix = 'ARTIFACT_INPUTS';
export const artifactOutputsSuffix = 'ARTIFACT_OUTPUTS';
export const imageUrlSuffix = 'IMAGE_URL';
export const imageDigestSuffix = 'IMAGE_DIGEST';
export const imagesResult = 'IMAGES';
export const ociScheme = 'oci://';
export const gitSchemePrefix = 'git+';

type Log = ProvenanceWarnings | undefined;

function dropped(log: Log, what: string, reason: string, fields: Record<string, unknown> = {}): void {
  log?.push({ level: 'warn', fields: { ...fields, reason }, message: `provenance: dropped ${what}: ${reason}` });
}

const stringVal = (r: RunResult): string => (typeof r.value === 'string' ? r.value : '');
const objectVal = (r: RunResult): Readonly<Record<string, string>> | undefined =>
  typeof r.value === 'object' && !Array.isArray(r.value) ? (r.value as Readonly<Record<string, string>>) : undefined;

export interface UriDigest {
  readonly uri: string;
  readonly digest: string;
}

/** `*<uriSuffix>` + `*<digestSuffix>` results paired by identical prefix, in order of first appearance. */
function pairedTargets(results: readonly RunResult[], uriSuffix: string, digestSuffix: string): { marker: string; uri: string; digest: string }[] {
  const byMarker = new Map<string, { marker: string; uri: string; digest: string }>();
  const entry = (marker: string) => {
    let e = byMarker.get(marker);
    if (!e) {
      e = { marker, uri: '', digest: '' };
      byMarker.set(marker, e);
    }
    return e;
  };
  for (const r of results) {
    const v = stringVal(r);
    if (r.name.endsWith(uriSuffix) && v !== '') entry(r.name.slice(0, -uriSuffix.length)).uri = v.trim();
    if (r.name.endsWith(digestSuffix) && v !== '') entry(r.name.slice(0, -digestSuffix.length)).digest = v.trim();
  }
  return [...byMarker.values()];
}

/** Why an `*ARTIFACT_OUTPUTS`/`*ARTIFACT_INPUTS` object result is not usable, or undefined when it is. */
function structuredProblem(r: RunResult): string | undefined {
  const o = objectVal(r);
  if (!o) return 'value must be an object {uri, digest}';
  if (!o['uri']) return 'missing uri';
  if (!o['digest']) return 'missing digest';
  const d = checkDigest(o['digest']);
  return d.ok ? undefined : `invalid digest ${JSON.stringify(o['digest'])}: ${d.reason}`;
}

/** `*ARTIFACT_OUTPUTS` / `*ARTIFACT_INPUTS` objects with a uri and a valid digest. */
export function extractStructuredTargets(results: readonly RunResult[], suffix: string, log?: Log): UriDigest[] {
  const out: UriDigest[] = [];
  for (const r of results) {
    if (!r.name.endsWith(suffix)) continue;
    const problem = structuredProblem(r);
    if (problem) {
      dropped(log, `result ${r.name}`, problem, { result: r.name });
      continue;
    }
    const o = objectVal(r) ?? {};
    out.push({ uri: o['uri'] ?? '', digest: o['digest'] ?? '' });
  }
  return out;
}

/** Whether a result is an `*ARTIFACT_OUTPUTS` marked `isBuildArtifact: "true"`; `invalid` when marked but unusable. */
export function buildArtifactStatus(r: RunResult): 'yes' | 'no' | 'invalid' {
  if (!r.name.endsWith(artifactOutputsSuffix)) return 'no';
  const o = objectVal(r);
  if (!o) return 'invalid';
  if (o['isBuildArtifact'] !== 'true') return 'no';
  return structuredProblem(r) === undefined ? 'yes' : 'invalid';
}

/** `*ARTIFACT_OUTPUTS` objects marked `isBuildArtifact: "true"` with a valid digest (SLSA v1.0 v2alpha4 subjects). */
export function extractBuildArtifacts(results: readonly RunResult[], log?: Log): UriDigest[] {
  const out: UriDigest[] = [];
  for (const r of results) {
    const s = buildArtifactStatus(r);
    if (s === 'invalid') {
      dropped(log, `build artifact ${r.name}`, structuredProblem(r) ?? 'invalid', { result: r.name });
    } else if (s === 'yes') {
      const o = objectVal(r) ?? {};
      out.push({ uri: o['uri'] ?? '', digest: o['digest'] ?? '' });
    }
  }
  return out;
}

/** An image a run produced: normalised repository and sha256 digest. */
export interface ImageArtifact {
  readonly repository: string;
  readonly digest: string;
}

/**
 * Chains' `ExtractOCIImagesFromResults`: `*IMAGE_URL`+`*IMAGE_DIGEST` pairs, each `IMAGES` entry
 * (comma or newline separated), and build-artifact `*ARTIFACT_OUTPUTS` that are image references.
 */
export function extractOciImages(results: readonly RunResult[], log?: Log): ImageArtifact[] {
  const out: ImageArtifact[] = [];
  for (const p of pairedTargets(results, imageUrlSuffix, imageDigestSuffix)) {
    if (p.uri === '' || p.digest === '') {
      dropped(log, `image ${p.marker}${imageUrlSuffix}`, `missing ${p.uri === '' ? imageUrlSuffix : imageDigestSuffix}`, { marker: p.marker });
      continue;
    }
    const ref = parseImageDigestReference(`${p.uri}@${p.digest}`);
    if (ref.ok) out.push({ repository: ref.repository, digest: ref.digest });
    else dropped(log, `image ${p.uri}@${p.digest}`, ref.reason, { result: `${p.marker}${imageUrlSuffix}` });
  }
  for (const r of results) {
    if (r.name !== imagesResult) continue;
    for (const item of stringVal(r).split(/[\n,]/)) {
      const trimmed = item.trim();
      if (trimmed === '') continue;
      const ref = parseImageDigestReference(trimmed);
      if (ref.ok) out.push({ repository: ref.repository, digest: ref.digest });
      else dropped(log, `IMAGES entry ${trimmed}`, ref.reason, { result: imagesResult });
    }
  }
  for (const r of results) {
    if (buildArtifactStatus(r) !== 'yes') continue;
    const o = objectVal(r) ?? {};
    const ref = parseImageDigestReference(`${o['uri'] ?? ''}@${o['digest'] ?? ''}`);
    // Build artifacts need not be images (files, packages): not an error, so debug only.
    if (ref.ok) out.push({ repository: ref.repository, digest: ref.digest });
    else log?.push({ level: 'debug', fields: { result: r.name, reason: ref.reason }, message: 'provenance: build artifact is not an OCI image' });
  }
  return out;
}

/** `*ARTIFACT_URI` + `*ARTIFACT_DIGEST` pairs with a valid digest. */
export function extractSignableTargets(results: readonly RunResult[], log?: Log): UriDigest[] {
  const out: UriDigest[] = [];
  for (const p of pairedTargets(results, 'ARTIFACT_URI', 'ARTIFACT_DIGEST')) {
    if (p.uri === '' || p.digest === '') {
      dropped(log, `artifact ${p.marker}ARTIFACT_URI`, `missing ${p.uri === '' ? 'ARTIFACT_URI' : 'ARTIFACT_DIGEST'}`, { marker: p.marker });
      continue;
    }
    const d = checkDigest(p.digest);
    if (!d.ok) {
      dropped(log, `artifact ${p.uri}`, `invalid digest ${JSON.stringify(p.digest)}: ${d.reason}`, { marker: p.marker });
      continue;
    }
    out.push({ uri: p.uri, digest: p.digest });
  }
  return out;
}

/** `alg:hex` → `{alg: hex}` (split as Chains does, after validation). */
export function digestSet(digest: string): Record<string, string> {
  const [alg = '', hex = ''] = digest.split(':');
  return { [alg]: hex };
}

/** Subjects of one run's results, SLSA v0.2 / v2alpha3 style (Chains `subjectsFromTektonObject`). */
export function subjectsFromResults(results: readonly RunResult[], log?: Log): DigestedArtifact[] {
  let subjects: DigestedArtifact[] = [];
  for (const i of extractOciImages(results, log)) subjects = appendArtifacts(subjects, { name: i.repository, digest: digestSet(i.digest) });
  for (const s of extractSignableTargets(results, log)) subjects = appendArtifacts(subjects, { name: s.uri, digest: digestSet(s.digest) });
  for (const s of extractStructuredTargets(results, artifactOutputsSuffix, log)) subjects = appendArtifacts(subjects, { name: s.uri, digest: digestSet(s.digest) });
  return subjects;
}

/** Subjects SLSA v1.0 v2alpha4 style (Chains `SubjectsFromBuildArtifact`): build artifacts, then images. */
export function subjectsFromBuildArtifacts(results: readonly RunResult[], log?: Log): DigestedArtifact[] {
  let subjects: DigestedArtifact[] = [];
  for (const s of extractBuildArtifacts(results, log)) subjects = appendArtifacts(subjects, { name: s.uri, digest: digestSet(s.digest) });
  for (const i of extractOciImages(results, undefined)) subjects = appendArtifacts(subjects, { name: i.repository, digest: digestSet(i.digest) });
  return subjects;
}

/** `imageID` → `oci://<repo>` + `{alg: hex}`; `docker-pullable://` stripped. */
export function materialFromImageId(imageID: string, log: Log, where: string): DigestedArtifact | undefined {
  const at = imageID.split('@');
  if (at.length !== 2) {
    // Chains fails the whole attestation here; one unpinned image should not cost the rest.
    dropped(log, `${where} image ${JSON.stringify(imageID)}`, 'imageID is not of the form <repo>@<alg>:<hex>', { imageID });
    return undefined;
  }
  const d = (at[1] ?? '').split(':');
  if (d.length !== 2) {
    dropped(log, `${where} image ${JSON.stringify(imageID)}`, 'imageID digest is not of the form <alg>:<hex>', { imageID });
    return undefined;
  }
  return { name: ociScheme + (at[0] ?? '').replace(/^docker-pullable:\/\//, ''), digest: { [d[0] ?? '']: d[1] ?? '' } };
}

export function stepImageMaterials(run: Run, log?: Log): DigestedArtifact[] {
  let mats: DigestedArtifact[] = [];
  for (const s of run.status.steps) {
    const m = materialFromImageId(s.imageID, log, `step ${s.name}`);
    if (m) mats = appendArtifacts(mats, m);
  }
  return mats;
}

export function sidecarImageMaterials(run: Run, log?: Log): DigestedArtifact[] {
  let mats: DigestedArtifact[] = [];
  for (const s of run.status.sidecars) {
    const m = materialFromImageId(s.imageID, log, `sidecar ${s.name}`);
    if (m) mats = appendArtifacts(mats, m);
  }
  return mats;
}

/** Chains `attest.SPDXGit`: `git+<url>.git`. */
export function spdxGit(url: string): string {
  let u = url.startsWith(gitSchemePrefix) ? url : gitSchemePrefix + url;
  if (!u.endsWith('.git')) u += '.git';
  return u;
}

function gitFrom(
  specs: readonly { name: string; default?: unknown }[],
  params: readonly { name: string; value: unknown }[],
  results: readonly RunResult[],
): { commit: string; url: string } {
  let commit = '';
  let url = '';
  const s = (v: unknown) => (typeof v === 'string' ? v : '');
  for (const p of specs) {
    if (p.default === undefined) continue;
    if (p.name === commitParam) commit = s(p.default);
    else if (p.name === urlParam) url = s(p.default);
  }
  for (const p of params) {
    if (p.name === commitParam) commit = s(p.value);
    else if (p.name === urlParam) url = s(p.value);
  }
  for (const r of results) {
    if (r.name === commitParam) commit = stringVal(r);
    if (r.name === urlParam) url = stringVal(r);
  }
  return { commit, url };
}

function structuredInputMaterials(results: readonly RunResult[], log: Log): DigestedArtifact[] {
  return extractStructuredTargets(results, artifactInputsSuffix, log).map((s) => {
    const d = checkDigest(s.digest);
    return { name: s.uri, digest: d.ok ? { [d.algorithm]: d.hex } : {} };
  });
}

/** Chains `FromTaskParamsAndResults`: CHAINS-GIT_* (defaults → params → results), then `*ARTIFACT_INPUTS`. */
export function taskInputMaterials(run: Run, log?: Log): DigestedArtifact[] {
  const { commit, url } = gitFrom(run.status.taskSpec?.params ?? [], run.spec.params, run.status.results);
  let mats: DigestedArtifact[] = [];
  if (commit !== '' && url !== '') mats = appendArtifacts(mats, { name: spdxGit(url), digest: { sha1: commit } });
  return appendArtifacts(mats, ...structuredInputMaterials(run.status.results, log));
}

/** v2alpha4: `*ARTIFACT_INPUTS` emitted by steps (StepActions). */
export function stepActionInputMaterials(run: Run, log?: Log): DigestedArtifact[] {
  return structuredInputMaterials(
    run.status.steps.flatMap((s) => s.results),
    log,
  );
}

/** Chains `FromPipelineParamsAndResults`. */
export function pipelineInputMaterials(run: Run, children: readonly Run[], deepInspection: boolean, log?: Log): DigestedArtifact[] {
  let mats: DigestedArtifact[] = appendArtifacts([], ...structuredInputMaterials(run.status.results, log));
  if (deepInspection) for (const tr of executedTaskRuns(run, children)) mats = appendArtifacts(mats, ...taskInputMaterials(tr.run, log));
  const { commit, url } = gitFrom(run.status.pipelineSpec?.params ?? [], run.spec.params, run.status.results);
  if (commit !== '' && url !== '') mats = appendArtifacts(mats, { name: spdxGit(url), digest: { sha1: commit } });
  return mats;
}

/** Child TaskRuns of a pipeline task, matched by label `tekton.dev/pipelineTask`. */
export function taskRunsForTask(children: readonly Run[], task: string): Run[] {
  return children.filter((c) => c.kind === 'TaskRun' && c.labels?.[pipelineTaskLabel] === task);
}

/** Pipeline tasks (tasks then finally) with the child TaskRun that executed and completed them. */
export function executedTaskRuns(run: Run, children: readonly Run[]): { task: PipelineTask; run: Run; isFinally: boolean }[] {
  const spec = run.status.pipelineSpec;
  if (!spec) return [];
  const out: { task: PipelineTask; run: Run; isFinally: boolean }[] = [];
  const all = [...spec.tasks.map((t) => ({ t, f: false })), ...spec.finally.map((t) => ({ t, f: true }))];
  for (const { t, f } of all) {
    for (const tr of taskRunsForTask(children, t.name)) {
      if (tr.status.completionTime === undefined) continue;
      out.push({ task: t, run: tr, isFinally: f });
    }
  }
  return out;
}

/** Subjects of a PipelineRun (SLSA v0.2 and v2alpha3 rules); with deep inspection the executed children's first. */
export function pipelineRunSubjects(run: Run, children: readonly Run[], deep: boolean, log: Log): DigestedArtifact[] {
  const own = subjectsFromResults(run.status.results, log);
  if (!deep) return own;
  let out: DigestedArtifact[] = [];
  for (const { run: tr } of executedTaskRuns(run, children)) out = appendArtifacts(out, ...subjectsFromResults(tr.status.results, log));
  return appendArtifacts(out, ...own);
}
