import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
  .map((l) => l.trim());

describe('Dockerfile invariants (checked without a Docker engine)', () => {
  it('is multi-stage on a pinned Node 22 base', () => {
    const froms = instructions.filter((l) => /^FROM\s/i.test(l));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) {
      const image = f.split(/\s+/)[1] ?? '';
      // pinned: an exact x.y.z Node release tag (or a digest), never "latest" or a bare major
      expect(image).toMatch(/^node:22\.\d+\.\d+-[a-z-]+(@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$/);
    }
  });

  it('runs as a non-root user in the final stage and enters the controller', () => {
    const lastFrom = instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
    const finalStage = instructions.slice(lastFrom);
    const user = finalStage.filter((l) => /^USER\s/i.test(l)).pop();
    expect(user).toBeDefined();
    const who = (user ?? '').split(/\s+/)[1] ?? '';
    expect(who).not.toMatch(/^(root|0)(:|$)/);
    expect(finalStage.some((l) => /^ENTRYPOINT\s.*controller/.test(l))).toBe(true);
    // only production dependencies reach the final image
    expect(dockerfile).toMatch(/npm (ci|prune) --omit=dev/);
  });

  it('ships compiled JavaScript: the build stage compiles (prepare), the final stage has dist/ and no sources or tsx', () => {
    const lastFrom = instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
    const buildStage = instructions.slice(0, lastFrom);
    const finalStage = instructions.slice(lastFrom);
    // `npm ci` runs the `prepare` build, so the sources must be there before it
    const copySrc = buildStage.findIndex((l) => /^COPY\s+src\b/.test(l));
    const ci = buildStage.findIndex((l) => /^RUN\s+npm ci\b/.test(l));
    expect(copySrc).toBeGreaterThanOrEqual(0);
    expect(ci).toBeGreaterThan(copySrc);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['prepare']).toBeDefined();
    expect(finalStage.some((l) => /^COPY\s.*\/dist\s/.test(l))).toBe(true);
    // no COPY whose source is a src/ directory (the build stage's workdir /src/... is fine)
    expect(finalStage.some((l) => /^COPY\s.*\s(\S*\/)?src\/?\s+\S+$/.test(l))).toBe(false);
    expect(finalStage.join('\n')).not.toMatch(/\btsx\b/);
    expect(pkg.scripts['prepare']).not.toMatch(/\btsx\b/);
  });

  it('never ADDs remote URLs and copies no secrets or tests', () => {
    for (const l of instructions) {
      if (/^ADD\s/i.test(l)) expect(l).not.toMatch(/https?:\/\//);
      if (/^COPY\s/i.test(l)) expect(l).not.toMatch(/\b(test|\.git|\.env|\.pem|cosign)\b/);
    }
  });

  it('has a .dockerignore that keeps keys, secrets and node_modules out of the context', () => {
    const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', '.git', 'test', '**/*.pem', '**/*.key', '**/*.password', '**/cosign.*']) {
      expect(ignore).toContain(entry);
    }
  });
});
