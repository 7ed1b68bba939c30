import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import type { TraceGraph } from '../../src/verify/index.js';

describe('provenant demo --out DIR', () => {
  it("ends by tracing its own chain offline: trace.json with verified images, base-image links and a signed source", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'provenant-demo-trace-'));
    try {
      let out = '';
      const code = await runCli(['demo', '--out', dir], { stdout: (t) => void (out += t), stderr: () => undefined, readStdin: () => Promise.resolve(''), env: {}, cwd: process.cwd() });
      expect(code).toBe(0);
      expect(out).toContain("The demo's own supply chain, traced offline");
      const graph = JSON.parse(await readFile(path.join(dir, 'trace.json'), 'utf8')) as TraceGraph;
      const verified = graph.nodes.filter((n) => n.kind === 'image' && n.verdict === 'verified' && n.source === 'local' && n.signature?.verdict === 'verified');
      expect(verified.length).toBeGreaterThanOrEqual(3);
      expect(graph.edges.filter((e) => e.relation === 'base-image')).toHaveLength(2);
      expect(graph.nodes.find((n) => n.kind === 'git')).toMatchObject({ verdict: 'signed-commit' });
      expect(await readFile(path.join(dir, 'trace.html'), 'utf8')).toContain('base-image');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
