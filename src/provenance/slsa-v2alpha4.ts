import type { Run } from '../tekton/index.js';
import { appendArtifacts, type DigestedArtifact } from './artifacts.js';
import { pipelineRunDependencies, resultByproducts, slsaV1Statement, taskRunDependencies, type ResourceDescriptor } from './slsa-v1-common.js';
import { predicateTypeSlsaV1, statementTypeV1, type FormatInput, type InTotoStatement, type ProvenanceFormat, type ProvenanceWarnings } from './statement.js';
import { executedTaskRuns, subjectsFromBuildArtifacts } from './type-hinting.js';

/**
 * SLSA v1.0 predicate, Chains `slsa/v2alpha4`: StepAction-aware. Subjects are build artifacts
 * (`*ARTIFACT_OUTPUTS` with `isBuildArtifact: "true"`) and images; byproducts are the other results.
 */

const stepResults = (run: Run) => run.status.steps.flatMap((s) => s.results);

function taskSubjects(run: Run, log: ProvenanceWarnings | undefined): DigestedArtifact[] {
  return subjectsFromBuildArtifacts([...run.status.results, ...stepResults(run)], log);
}

function taskByproducts(run: Run): ResourceDescriptor[] {
  return [
    ...resultByproducts(run.status.results, (r) => `taskRunResults/${run.name}/${r.name}`, true),
    ...resultByproducts(stepResults(run), (r) => `stepResults/${run.name}/${r.name}`, true),
  ];
}

function build({ run, children, options, warnings: logger }: FormatInput): InTotoStatement {
  if (run.kind === 'TaskRun') {
    return slsaV1Statement(run, taskSubjects(run, logger), options, taskRunDependencies(run, true, logger), taskByproducts(run));
  }
  let subjects = subjectsFromBuildArtifacts(run.status.results, logger);
  const byproducts = resultByproducts(run.status.results, (r) => `pipelineRunResults/${run.name}/${r.name}`, true);
  if (options.deepInspection) {
    for (const { run: tr } of executedTaskRuns(run, children)) {
      subjects = appendArtifacts(subjects, ...taskSubjects(tr, logger));
      byproducts.push(...taskByproducts(tr));
    }
  }
  return slsaV1Statement(run, subjects, options, pipelineRunDependencies(run, children, options, true, logger), byproducts);
}

export const slsaV2alpha4Format: ProvenanceFormat = { statementType: statementTypeV1, predicateType: predicateTypeSlsaV1, build };
