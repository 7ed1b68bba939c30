import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { startRegistry, type RegistryHandle } from '../support/services.js';
import { createTestKey, pushTestImage, signProvenance, testStatement, type PushedImage } from '../support/oci-image.js';
import { createCapturingLogger, createSilentLogger } from '../../src/observability/logger.js';
import { createOciReader, createOciStorage, credentialsFromDockerConfig, type DockerCredentials } from '../../src/storage/oci/index.js';
import type { StoreRequest } from '../../src/storage/types.js';
import { isProvenantError } from '../../src/errors.js';

const user = { username: 'builder', password: 'test-only-pass' };
let registry: RegistryHandle;
let good: DockerCredentials;
let image: PushedImage;
let request: StoreRequest;

beforeAll(async () => {
  registry = await startRegistry({ auth: user });
  good = credentialsFromDockerConfig(JSON.stringify({ auths: { [`http://${registry.host}`]: { username: user.username, password: user.password } } }));
  image = await pushTestImage({ host: registry.host, repository: 'team/app', credentials: good });
  const statement = testStatement(image);
  request = {
    run: { kind: 'TaskRun', namespace: 'ns', name: 'build', uid: 'u' },
    artifact: { type: 'provenance', shortKey: 'taskrun-u', subjects: [{ name: image.name, digest: { sha256: image.hex } }], predicateType: 'https://slsa.dev/provenance/v0.2' },
    payload: statement,
    bundle: await signProvenance(createTestKey(), statement),
  };
});

afterAll(async () => {
  await registry?.stop();
});

describe('OCI storage with htpasswd basic auth', () => {
  it('stores with the right credentials; skopeo (with the same creds) reads the .att', async () => {
    const { logger, lines } = createCapturingLogger('debug');
    await createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'both' }, credentials: good, logger, tagUpdate: { settleMs: 10 } }).store(request);
    const out = execFileSync(
      'skopeo',
      ['inspect', '--raw', '--tls-verify=false', '--creds', `${user.username}:${user.password}`, `docker://${image.name}:sha256-${image.hex}.att`],
      { encoding: 'utf8' },
    );
    expect((JSON.parse(out) as { layers: unknown[] }).layers).toHaveLength(1);
    const read = await createOciReader({ config: { repository: undefined, insecure: true }, credentials: good, logger: createSilentLogger() }).readAttestations(image.ref);
    expect(read.envelopes).toHaveLength(1);
    expect(read.bundles).toHaveLength(1);
    expect(lines.join('\n')).not.toContain(user.password);
  });

  it('wrong password → permanent OCI_UNAUTHORIZED naming the registry and the ServiceAccount, no secret in the error', async () => {
    const wrong = credentialsFromDockerConfig({ auths: { [registry.host]: { auth: Buffer.from(`${user.username}:nope-secret`).toString('base64') } } });
    const err = await createOciStorage({
      config: { repository: undefined, insecure: true, encoding: 'dsse' },
      credentials: wrong,
      logger: createSilentLogger(),
      serviceAccount: 'ns/pipeline',
    })
      .store(request)
      .catch((e: unknown) => e);
    expect(isProvenantError(err, 'OCI_UNAUTHORIZED') && err.kind === 'permanent').toBe(true);
    if (!isProvenantError(err)) return;
    expect(err.context['registry']).toBe(registry.host);
    expect(err.context['serviceAccount']).toBe('ns/pipeline');
    expect(JSON.stringify(err.toJSON()) + err.message).not.toContain('nope-secret');
  });

  it('no credentials for the host (only for another) → OCI_UNAUTHORIZED', async () => {
    const other = credentialsFromDockerConfig({ auths: { 'other.example.com': { username: user.username, password: user.password } } });
    const err = await createOciStorage({ config: { repository: undefined, insecure: true, encoding: 'dsse' }, credentials: other, logger: createSilentLogger() })
      .store(request)
      .catch((e: unknown) => e);
    expect(isProvenantError(err, 'OCI_UNAUTHORIZED')).toBe(true);
  });
});
