/**
 * The controller signing keylessly (mock Fulcio) with a timestamp authority and no transparency log:
 * cosign 2.5 verifies the `.sig`, `.att` and bundle referrers offline with the TSA chain. Then a
 * keyless chains-config with neither a log nor a TSA is rejected at load (InvalidConfiguration
 * Event, CONFIG_INVALID), and the last good configuration keeps signing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  annotationsOf,
  pushImages,
  refOf,
  setChainsConfig,
  startE2eEnvironment,
  startInstance,
  taskRunObject,
  waitFor,
  type ControllerInstance,
  type E2eEnvironment,
} from '../support/controller-harness.js';
import { prepareCosignKeyless, type CosignKeyless } from '../support/cosign-keyless.js';
import { jwt } from '../unit/signing/helpers.js';

const issuer = 'https://kubernetes.default.svc';
const san = 'https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller';
const predicateType = 'https://slsa.dev/provenance/v0.2';

let env: E2eEnvironment;
let instance: ControllerInstance;
let dir: string;
let ck: CosignKeyless;
let keylessData: Record<string, string>;

beforeAll(async () => {
  env = await startE2eEnvironment({ redis: false });
  dir = await mkdtemp(path.join(tmpdir(), 'provenant-e2e-keyless-'));
  ck = await prepareCosignKeyless(dir, env.sigstore);
  const token = jwt({ iss: issuer, sub: 'system:serviceaccount:tekton-chains:tekton-chains-controller', aud: ['sigstore'], 'kubernetes.io': { namespace: 'tekton-chains', serviceaccount: { name: 'tekton-chains-controller' } } });
  await writeFile(path.join(dir, 'oidc-token'), token);
  keylessData = {
    ...env.configData,
    'artifacts.taskrun.storage': 'oci',
    'transparency.enabled': 'false',
    'signers.x509.fulcio.enabled': 'true',
    'signers.x509.fulcio.address': env.sigstore.fulcioUrl,
    'signers.x509.identity.token.file': path.join(dir, 'oidc-token'),
    'signers.x509.tsa.url': env.sigstore.tsaUrl,
  };
  setChainsConfig(env, keylessData);
  instance = await startInstance(env, { memoryQueue: true });
}, 60_000);

afterAll(async () => {
  await instance?.stop();
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function signRun(name: string): Promise<{ ref: string; annotations: Record<string, string> }> {
  const [image] = await pushImages(env.registry, `keyless-${name}`, 1);
  if (image === undefined) throw new Error('no image');
  const run = env.kube.create(taskRunObject(name, { image }));
  const ref = refOf(run);
  await waitFor(() => annotationsOf(env.kube, ref)['chains.tekton.dev/signed'] !== undefined, 30_000, `${name} signed`);
  return { ref: image.ref, annotations: annotationsOf(env.kube, ref) };
}

describe('controller, keyless with a TSA and no log', () => {
  it('signs; cosign verifies the .sig, .att and bundle referrers offline with the timestamps, and refuses another identity', async () => {
    const rekorBefore = env.sigstore.rekorEntryCount();
    const { ref, annotations } = await signRun('stamped');
    expect(annotations['chains.tekton.dev/signed']).toBe('true');
    expect(annotations['chains.tekton.dev/transparency']).toBeUndefined();
    expect(env.sigstore.rekorEntryCount()).toBe(rekorBefore);
    const id = ck.identity(san, issuer);
    const results = await Promise.all([
      ck.run(['verify', ...id, ...ck.legacyStamped(), ref]),
      ck.run(['verify-attestation', '--type', predicateType, ...id, ...ck.legacyStamped(), ref]),
      ck.run(['verify', ...id, ...ck.bundle(true), ref]),
      ck.run(['verify-attestation', '--type', predicateType, ...id, ...ck.bundle(true), ref]),
    ]);
    expect(results.map((r) => (r.code === 0 ? 0 : r.err))).toEqual([0, 0, 0, 0]);
    const wrong = await ck.run(['verify', ...ck.identity('https://kubernetes.io/namespaces/x/serviceaccounts/y', issuer), ...ck.legacyStamped(), ref]);
    expect(wrong.code).not.toBe(0);
  }, 60_000);

  it('a keyless chains-config with neither log nor TSA is rejected at load; the last good one keeps signing', async () => {
    const { 'signers.x509.tsa.url': _tsa, ...withoutTsa } = keylessData;
    setChainsConfig(env, withoutTsa);
    const rejected = (): boolean =>
      env.kube.events().some((e) => (e as { reason?: string }).reason === 'InvalidConfiguration' && String((e as { message?: string; note?: string }).message ?? (e as { note?: string }).note ?? '').startsWith('CONFIG_INVALID'));
    await waitFor(rejected, 15_000, 'InvalidConfiguration event');
    const { annotations } = await signRun('after-rejection');
    expect(annotations['chains.tekton.dev/signed']).toBe('true');
  }, 60_000);
});
