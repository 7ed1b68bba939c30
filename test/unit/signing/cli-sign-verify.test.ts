import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli } from '../../../src/cli/run.js';
import { generateKey, pemOf, secretDir } from './helpers.js';
import { captureIo, type CapturingIo } from '../../support/cli.js';
import { imageTaskRun } from '../../support/task-run.js';

const io = (): CapturingIo => captureIo();

const digest = 'b'.repeat(64);
const taskRun = imageTaskRun({ image: 'registry.local/app', digest: `sha256:${digest}` });

describe('provenant sign / verify', () => {
  it('signs a TaskRun with the Secret key and verifies the bundle (0), a wrong key is rejected (1)', async () => {
    const { privateKey, publicKey } = generateKey('p256');
    const dir = await secretDir({
      'x509.pem': pemOf(privateKey),
      'key.pub': pemOf(publicKey),
      'other.pub': pemOf(generateKey('p256').publicKey),
      'run.json': JSON.stringify(taskRun),
      'config.json': JSON.stringify({ 'artifacts.taskrun.format': 'in-toto' }),
    });
    const signIo = io();
    const bundlePath = path.join(dir, 'bundle.json');
    const signCode = await runCli(
      ['sign', '--config', path.join(dir, 'config.json'), '--signing-secrets', dir, '--out', bundlePath, path.join(dir, 'run.json')],
      signIo,
    );
    expect(signIo.err.join('')).toBe('');
    expect(signCode).toBe(0);
    expect(JSON.parse(await readFile(bundlePath, 'utf8'))).toMatchObject({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' });

    const ok = io();
    expect(await runCli(['verify', '--bundle', bundlePath, '--key', path.join(dir, 'key.pub')], ok)).toBe(0);
    expect(ok.out.join('')).toContain('registry.local/app');
    expect(ok.out.join('')).toContain('https://slsa.dev/provenance/v0.2');

    const bad = io();
    expect(await runCli(['verify', '--bundle', bundlePath, '--key', path.join(dir, 'other.pub')], bad)).toBe(1);
    expect(bad.err.join('')).toContain('VERIFY_SIGNATURE_INVALID');

    const noTlog = io();
    expect(await runCli(['verify', '--bundle', bundlePath, '--key', path.join(dir, 'key.pub'), '--require-tlog'], noTlog)).toBe(1);
    expect(noTlog.err.join('')).toContain('VERIFY_TLOG_MISSING');
  });

  it('usage and input errors exit 2', async () => {
    const dir = await secretDir({ 'garbage.json': '{"not":"a bundle"}', 'key.pub': pemOf(generateKey('p256').publicKey) });
    expect(await runCli(['verify', '--bundle', path.join(dir, 'garbage.json')], io())).toBe(2);
    expect(await runCli(['verify', '--bundle', path.join(dir, 'garbage.json'), '--key', path.join(dir, 'key.pub')], io())).toBe(2);
    expect(await runCli(['verify', '--bundle', path.join(dir, 'garbage.json'), '--certificate-identity', 'x', '--certificate-oidc-issuer', 'y'], io())).toBe(2);
    expect(await runCli(['sign', path.join(dir, 'garbage.json')], io())).toBe(2);
  });

  it('sign with no key in the Secret dir exits 2 with SIGNING_KEY_MISSING', async () => {
    const dir = await secretDir({ 'run.json': JSON.stringify(taskRun), 'config.json': '{}' });
    await writeFile(path.join(dir, 'config.json'), '{}');
    const e = io();
    expect(await runCli(['sign', '--config', path.join(dir, 'config.json'), '--signing-secrets', path.join(dir, 'none'), path.join(dir, 'run.json')], e)).toBe(2);
    expect(e.err.join('')).toContain('SIGNING_KEY_MISSING');
  });
});
