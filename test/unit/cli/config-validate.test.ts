import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../../src/cli/index.js';
import { captureIo, type CapturingIo } from '../../support/cli.js';

const io = (): CapturingIo => captureIo();

describe('provenant config validate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'provenant-cfg-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('accepts a valid ConfigMap and reports unknown keys as warnings', async () => {
    const f = path.join(dir, 'good.yaml');
    await writeFile(
      f,
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chains-config\ndata:\n  artifacts.taskrun.format: slsa/v2alpha4\n  typo.key: "1"\n',
    );
    const t = io();
    expect(await runCli(['config', 'validate', f], t)).toBe(0);
    expect(t.out.join('')).toContain('typo.key');
  });

  it('lists every invalid key and exits 1', async () => {
    const f = path.join(dir, 'bad.yaml');
    await writeFile(f, 'artifacts.taskrun.format: nope\ntransparency.enabled: sometimes\n');
    const t = io();
    expect(await runCli(['config', 'validate', f], t)).toBe(1);
    const out = t.out.join('');
    expect(out).toContain('artifacts.taskrun.format');
    expect(out).toContain('transparency.enabled');
  });

  it('picks chains-config out of a multi-document manifest', async () => {
    const f = path.join(dir, 'multi.yaml');
    await writeFile(
      f,
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chains-config\ndata:\n  artifacts.oci.signer: gpg\n',
    );
    expect(await runCli(['config', 'validate', f], io())).toBe(1);
  });

  it('exits 2 for usage errors and unreadable files', async () => {
    expect(await runCli(['config'], io())).toBe(2);
    expect(await runCli(['config', 'validate', path.join(dir, 'missing.yaml')], io())).toBe(2);
    const f = path.join(dir, 'broken.yaml');
    await writeFile(f, 'a: [unclosed\n');
    expect(await runCli(['config', 'validate', f], io())).toBe(2);
  });
});
