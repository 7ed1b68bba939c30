/**
 * "Load only what a command uses" (issue 10): the real bin is spawned under a module hook that records
 * every module the process resolves, and the packages each command loaded are checked. From the
 * sources (PROVENANT_FROM_SOURCE=1) every package is a file of its own, so everything is checked; the
 * compiled bundle (dist/, when current) inlines the light packages, so there the SDKs it keeps
 * external (client-node, BullMQ, ioredis, KMS, gRPC, pkcs11js) are what is checked.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../../../src/cli/run.js';
import { commandNames, commands } from '../../../src/cli/commands/index.js';
import { captureIo } from '../../support/cli.js';
import { generateKey, pemOf } from '../signing/helpers.js';
import { imageTaskRun } from '../../support/task-run.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'provenant.mjs');
const recorder = path.join(root, 'test', 'support', 'record-loads.mjs');

/** SDKs no light command may load: cloud KMS, gRPC, Redis/BullMQ, Kubernetes, HSM, metrics. */
const heavy = ['@aws-sdk', '@google-cloud', '@grpc', 'google-gax', 'bullmq', 'ioredis', '@kubernetes/client-node', 'pkcs11js', 'prom-client'];
/** What running the sources through tsx loads by itself. */
const loaderPackages = ['tsx', 'esbuild', 'get-tsconfig', 'resolve-pkg-maps'];

function packageOf(url: string): string | undefined {
  const i = url.lastIndexOf('/node_modules/');
  if (i < 0) return undefined;
  const [scopeOrName = '', name = ''] = url.slice(i + '/node_modules/'.length).split('/');
  return scopeOrName.startsWith('@') ? `${scopeOrName}/${name}` : scopeOrName;
}

interface Loaded {
  /** Packages resolved from node_modules (the tsx loader's own left out). */
  readonly packages: string[];
  /** The compiled dist/ ran (not the sources). */
  readonly compiled: boolean;
}

async function loaded(dir: string, args: readonly string[], from: 'source' | 'as-installed'): Promise<Loaded> {
  const file = path.join(dir, `loads-${args[0] ?? 'none'}-${Math.random().toString(16).slice(2)}.txt`);
  await run(process.execPath, ['--import', recorder, bin, ...args], {
    cwd: root,
    env: { ...process.env, RECORD_LOADS_FILE: file, PROVENANT_FROM_SOURCE: from === 'source' ? '1' : '' },
    timeout: 30_000,
  });
  const urls = (await readFile(file, 'utf8')).split('\n').filter((u) => u !== '');
  const packages = new Set(urls.map(packageOf).filter((p): p is string => p !== undefined));
  return {
    packages: [...packages].filter((p) => !loaderPackages.includes(p)).sort(),
    compiled: urls.some((u) => u.endsWith('/dist/cli/main.js')),
  };
}

/** Runs the command from the sources and as installed; returns the sources' packages, checking `heavy` on both. */
async function loadedPackages(dir: string, args: readonly string[]): Promise<string[]> {
  const [source, installed] = [await loaded(dir, args, 'source'), await loaded(dir, args, 'as-installed')];
  expect(source.compiled).toBe(false);
  expect(matching(installed.packages, heavy)).toEqual([]);
  return source.packages;
}

const matching = (packages: readonly string[], prefixes: readonly string[]): string[] =>
  packages.filter((p) => prefixes.some((h) => p === h || p.startsWith(`${h}/`)));

const taskRun = imageTaskRun({ image: 'registry.local/app', digest: `sha256:${'b'.repeat(64)}` });

describe('provenant loads only what a command uses', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'provenant-loads-'));
    const { privateKey, publicKey } = generateKey('p256');
    await writeFile(path.join(dir, 'x509.pem'), pemOf(privateKey));
    await writeFile(path.join(dir, 'key.pub'), pemOf(publicKey));
    await writeFile(path.join(dir, 'run.json'), JSON.stringify(taskRun));
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ 'artifacts.taskrun.format': 'in-toto' }));
    const emptyRoot = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
    await writeFile(path.join(dir, 'trusted_root.json'), JSON.stringify(emptyRoot));
    const io = captureIo();
    const code = await runCli(
      ['sign', '--config', path.join(dir, 'config.json'), '--signing-secrets', dir, '--out', path.join(dir, 'bundle.json'), path.join(dir, 'run.json')],
      io,
    );
    expect(io.err.join('')).toBe('');
    expect(code).toBe(0);
  });

  it('--help loads no package at all', async () => {
    expect(await loadedPackages(dir, ['--help'])).toEqual([]);
  });

  it('provenance of a JSON run loads no SDK, no YAML parser and nothing of Sigstore', async () => {
    const packages = await loadedPackages(dir, ['provenance', '--config', path.join(dir, 'config.json'), path.join(dir, 'run.json')]);
    expect(matching(packages, [...heavy, 'yaml', '@sigstore'])).toEqual([]);
  });

  it('config validate loads the YAML parser and nothing else of weight', async () => {
    const packages = await loadedPackages(dir, ['config', 'validate', path.join(root, 'config', 'x509-tekton.yaml')]);
    expect(packages).toContain('yaml');
    expect(matching(packages, [...heavy, '@sigstore', 'pino'])).toEqual([]);
  });

  it('verify --bundle with a key decides a keyed DSSE bundle without any Sigstore package, pino or SDK', async () => {
    const packages = await loadedPackages(dir, ['verify', '--bundle', path.join(dir, 'bundle.json'), '--key', path.join(dir, 'key.pub')]);
    expect(matching(packages, [...heavy, '@sigstore', 'sigstore', 'pino', 'yaml'])).toEqual([]);
  });

  it('verify --bundle with a trusted root loads the Sigstore verifier, not the signer, and no SDK', async () => {
    const args = ['verify', '--bundle', path.join(dir, 'bundle.json'), '--key', path.join(dir, 'key.pub'), '--trusted-root', path.join(dir, 'trusted_root.json')];
    const packages = await loadedPackages(dir, args);
    expect(packages).toContain('@sigstore/verify');
    expect(matching(packages, [...heavy, '@sigstore/sign', 'sigstore', 'yaml'])).toEqual([]);
  });

  it('each lazy command entry loads the module whose name and summary it shows', async () => {
    for (const name of commandNames) {
      const command = await commands[name].load();
      expect(command.name).toBe(name);
      expect(command.summary).toBe(commands[name].summary);
    }
  });
});
