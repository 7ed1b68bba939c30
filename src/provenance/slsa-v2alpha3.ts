import type { Run } from '../tekton/index.js';
import { appendArtifacts, type DigestedArtifact } from './artifacts.js';
import { pipelineRunDependencies, resultByproducts, slsaV1Statement, taskRunDependencies } from './slsa-v1-common.js';
import { predicateTypeSlsaV1, statementTypeV1, type FormatInput, type InTotoStatement, type ProvenanceFormat } from './statement.js';
import { executedTaskRuns, subjectsFromResults } from './type-hinting.js';
import type { Logger } from '../observability/logger.js';

/** SLSA v1.0 predicate, Chains `slsa/v2alpha3`: every result is a byproduct; v0.2-style subjects. */

function pipelineSubjects(run: Run, children: readonly Run[], deep: boolean, log: Logger | undefined): DigestedArtifact[] {
  const own = subjectsFromResults(run.status.results, log);
  if (!deep) return own;
  let out: DigestedArtifact[] = [];
  for (const { run: tr } of executedTaskRuns(run, children)) out = appendArtifacts(out, ...subjectsFromResults(tr.status.results, log));
  return appendArtifacts(out, ...own);
}

function build({ run, children, options, logger }: FormatInput): InTotoStatement {
  if (run.kind === 'TaskRun') {
    return slsaV1Statement(
      run,
      subjectsFromResults(run.status.results, logger),
      options,
      taskRunDependencies(run, false, logger),
      resultByproducts(run.status.results, (r) => `taskRunResults/${r.name}`, false),
    );
  }
  return slsaV1Statement(
    run,
    pipelineSubjects(run, children, options.deepInspection, logger),
    options,
    pipelineRunDependencies(run, children, options, false, logger),
    resultByproducts(run.status.results, (r) => `pipelineRunResults/${r.name}`, false),
  );
}

export const slsaV2alpha3Format: ProvenanceFormat = { statementType: statementTypeV1, predicateType: predicateTypeSlsaV1, build };
