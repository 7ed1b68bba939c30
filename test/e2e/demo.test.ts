import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';

describe('provenant demo', () => {
  it('signs and verifies every example run in-process and exits 0', async () => {
    let out = '';
    const code = await runCli(['demo'], {
      stdout: (t) => {
        out += t;
      },
      stderr: () => undefined,
      readStdin: () => Promise.resolve(''),
      env: {},
      cwd: process.cwd(),
    });
    expect(code).toBe(0);
    const rows = out.split('\n').filter((l) => /^(TaskRun|PipelineRun)\//.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const r of rows) expect(r).toMatch(/\strue\s.*yes \(\d+\)/);
    expect(out).toMatch(/^RUN\s+SUBJECTS\s+SIGNED\s+STORED\s+VERIFIED/m);
  }, 60_000);
});
