import { pipelineRunDependencies, resultByproducts, slsaV1Statement, taskRunDependencies } from './slsa-v1-common.js';
import { predicateTypeSlsaV1, statementTypeV1, type FormatInput, type InTotoStatement, type ProvenanceFormat } from './statement.js';
import { pipelineRunSubjects, subjectsFromResults } from './type-hinting.js';

/** SLSA v1.0 predicate, Chains `slsa/v2alpha3`: every result is a byproduct; v0.2-style subjects. */

function build({ run, children, options, warnings: logger }: FormatInput): InTotoStatement {
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
    pipelineRunSubjects(run, children, options.deepInspection, logger),
    options,
    pipelineRunDependencies(run, children, options, false, logger),
    resultByproducts(run.status.results, (r) => `pipelineRunResults/${r.name}`, false),
  );
}

export const slsaV2alpha3Format: ProvenanceFormat = { statementType: statementTypeV1, predicateType: predicateTypeSlsaV1, build };
