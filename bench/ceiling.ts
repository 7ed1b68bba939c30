/**
 * `ceiling`: in one process, the raw rate of compose + sign over the same runs the other benchmarks
 * use (plan every artifact, sign each with a local P-256 key; no I/O): the machine's ceiling for
 * our work. `backlog` measures it again in its own run for its ratio.
 */
import { report, round, scaled } from './lib/common.js';
import { measureCeiling } from './lib/ceiling.js';
import { fakeImages, taskRun } from './lib/runs.js';

async function main(): Promise<void> {
  const n = scaled(2000, 100);
  const runs = Array.from({ length: n }, (_, i) => taskRun({ index: i, prefix: 'ceil', namespace: 'team-a', images: fakeImages('ceil', i) }));
  const configData = { 'artifacts.taskrun.storage': 'tekton,oci', 'artifacts.oci.storage': 'oci' };
  const f = await measureCeiling(runs, configData, 5000);
  await report('ceiling', {
    runsPerSecond: round(f.runsPerSecond),
    provenanceOnlyRunsPerSecond: round(f.provenanceOnlyRunsPerSecond),
    artifactsPerRun: round(f.artifactsPerRun, 2),
    usPerRun: round(1e6 / f.runsPerSecond),
    runsMeasured: f.runs,
    format: 'in-toto (default)',
    signer: 'P-256 key in process',
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`ceiling: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
