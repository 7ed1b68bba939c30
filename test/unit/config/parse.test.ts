import { describe, it, expect } from 'vitest';
import { parseConfig, defaultConfig, configDataFromDocument, type ConfigProblem } from '../../../src/config/index.js';
import { ProvenantError } from '../../../src/errors.js';

function problemsOf(data: Record<string, string>): readonly ConfigProblem[] {
  try {
    parseConfig(data);
  } catch (err) {
    expect(err).toBeInstanceOf(ProvenantError);
    const e = err as ProvenantError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.kind).toBe('config');
    return e.context['problems'] as ConfigProblem[];
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('parseConfig defaults (Tekton Chains defaults)', () => {
  it('matches chains-config defaults', () => {
    const c = defaultConfig();
    expect(c.artifacts.taskrun).toEqual({ format: 'in-toto', storage: ['tekton'], signer: 'x509' });
    expect(c.artifacts.pipelinerun).toEqual({ format: 'in-toto', storage: ['tekton'], signer: 'x509', enableDeepInspection: false });
    expect(c.artifacts.oci).toEqual({ format: 'simplesigning', storage: ['oci'], signer: 'x509', signIndexManifests: false });
    expect(c.storage.oci).toEqual({ repository: undefined, insecure: false, encoding: 'dsse' });
    expect(c.transparency).toEqual({ mode: 'false', url: 'https://rekor.sigstore.dev', entryType: 'dsse', version: 'v1' });
    expect(c.builder.id).toBe('https://tekton.dev/chains/v2');
    expect(c.buildDefinition.buildType).toBe('https://tekton.dev/chains/v2/slsa');
    expect(c.signers.x509.fulcio).toEqual({
      enabled: false,
      address: 'https://fulcio.sigstore.dev',
      issuer: 'https://oauth2.sigstore.dev/auth',
      provider: undefined,
    });
    expect(c.signers.x509.identityTokenFile).toBe('/var/run/sigstore/cosign/oidc-token');
    expect(c.signers.secretPath).toBe('/etc/signing-secrets');
    expect(c.signers.kms.kmsref).toBeUndefined();
  });
});

describe('parseConfig values', () => {
  it('parses every documented key', () => {
    const { config, warnings } = parseConfig({
      'artifacts.taskrun.format': 'slsa/v2alpha4',
      'artifacts.taskrun.storage': 'oci, tekton,oci',
      'artifacts.taskrun.signer': 'kms',
      'artifacts.pipelinerun.format': 'slsa/v2alpha3',
      'artifacts.pipelinerun.storage': '',
      'artifacts.pipelinerun.enable-deep-inspection': 'true',
      'artifacts.oci.storage': 'local',
      'storage.oci.repository': 'registry.example/attestations',
      'storage.oci.repository.insecure': 'T',
      'storage.oci.encoding-format': 'both',
      'signers.kms.kmsref': 'awskms:///alias/provenant',
      'signers.x509.fulcio.enabled': '1',
      'signers.x509.fulcio.address': 'http://fulcio.local:5555/',
      'signers.x509.tsa.url': 'http://tsa.local/',
      'transparency.enabled': 'manual',
      'transparency.url': 'http://rekor.local',
      'builder.id': 'https://example.com/builder',
      'builddefinition.buildtype': 'https://tekton.dev/chains/v2/slsa-tekton',
      'filter.managed-by': 'a, b',
    });
    expect(warnings).toEqual([]);
    expect(config.artifacts.taskrun).toEqual({ format: 'slsa/v2alpha4', storage: ['oci', 'tekton'], signer: 'kms' });
    expect(config.artifacts.pipelinerun.storage).toEqual([]);
    expect(config.artifacts.pipelinerun.enableDeepInspection).toBe(true);
    expect(config.artifacts.oci.storage).toEqual(['local']);
    expect(config.storage.oci).toEqual({ repository: 'registry.example/attestations', insecure: true, encoding: 'both' });
    expect(config.signers.kms.kmsref).toBe('awskms:///alias/provenant');
    expect(config.signers.x509.fulcio.enabled).toBe(true);
    expect(config.signers.x509.fulcio.address).toBe('http://fulcio.local:5555');
    expect(config.signers.x509.tsa.url).toBe('http://tsa.local');
    expect(config.transparency).toEqual({ mode: 'manual', url: 'http://rekor.local', entryType: 'dsse', version: 'v1' });
    expect(config.buildDefinition.buildType).toBe('https://tekton.dev/chains/v2/slsa-tekton');
    expect(config.filter.managedBy).toEqual(['a', 'b']);
  });

  it('accepts slsa/v1 as the in-toto alias and pkcs11/gcpkms refs', () => {
    expect(parseConfig({ 'artifacts.taskrun.format': 'slsa/v1' }).config.artifacts.taskrun.format).toBe('slsa/v1');
    for (const ref of ['gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1', 'pkcs11:token=t;object=o?module-path=/m.so']) {
      expect(parseConfig({ 'artifacts.taskrun.signer': 'kms', 'signers.kms.kmsref': ref }).config.signers.kms.kmsref).toBe(ref);
    }
  });

  it('reports every bad key at once, not only the first', () => {
    const problems = problemsOf({
      'artifacts.taskrun.format': 'slsa/v9',
      'artifacts.taskrun.storage': 'tekton,floppy',
      'artifacts.pipelinerun.enable-deep-inspection': 'yes',
      'artifacts.oci.signer': 'gpg',
      'storage.oci.encoding-format': 'zip',
      'storage.oci.repository.insecure': 'maybe',
      'transparency.enabled': 'sometimes',
      'transparency.url': 'not a url',
      'builddefinition.buildtype': 'https://example.com/other',
    });
    expect(problems.map((p) => p.key).sort()).toEqual(
      [
        'artifacts.oci.signer',
        'artifacts.pipelinerun.enable-deep-inspection',
        'artifacts.taskrun.format',
        'artifacts.taskrun.storage',
        'builddefinition.buildtype',
        'storage.oci.encoding-format',
        'storage.oci.repository.insecure',
        'transparency.enabled',
        'transparency.url',
      ].sort(),
    );
  });

  it('artifacts.oci.sign-index-manifests is opt-in and validated as a boolean', () => {
    expect(parseConfig({}).config.artifacts.oci.signIndexManifests).toBe(false);
    expect(parseConfig({ 'artifacts.oci.sign-index-manifests': 'true' }).config.artifacts.oci.signIndexManifests).toBe(true);
    expect(problemsOf({ 'artifacts.oci.sign-index-manifests': 'all' }).map((p) => p.key)).toEqual(['artifacts.oci.sign-index-manifests']);
  });

  it('rejects invalid booleans that Chains silently treats as false', () => {
    expect(problemsOf({ 'signers.x509.fulcio.enabled': 'ture' }).map((p) => p.key)).toEqual(['signers.x509.fulcio.enabled']);
  });

  it('requires a kmsref when a signer is kms, and rejects unimplemented schemes', () => {
    expect(problemsOf({ 'artifacts.taskrun.signer': 'kms' }).map((p) => p.key)).toEqual(['signers.kms.kmsref']);
    expect(problemsOf({ 'artifacts.taskrun.signer': 'kms', 'signers.kms.kmsref': 'azurekms://v.vault.azure.net' }).map((p) => p.key)).toEqual([
      'signers.kms.kmsref',
    ]);
    expect(problemsOf({ 'signers.kms.kmsref': 'file:///key' }).map((p) => p.key)).toEqual(['signers.kms.kmsref']);
  });

  it('rejects Chains storage backends provenant does not implement, and kafka for pipelineruns', () => {
    expect(problemsOf({ 'artifacts.taskrun.storage': 'kafka' }).map((p) => p.key)).toEqual(['artifacts.taskrun.storage']);
    expect(problemsOf({ 'artifacts.pipelinerun.storage': 'kafka' }).map((p) => p.key)).toEqual(['artifacts.pipelinerun.storage']);
  });

  it('transparency.entry-type and transparency.version: dsse/v1 by default, intoto on v1 only, bad values listed', () => {
    expect(parseConfig({ 'transparency.entry-type': 'intoto' }).config.transparency).toMatchObject({ entryType: 'intoto', version: 'v1' });
    expect(parseConfig({ 'transparency.version': 'v2' }).config.transparency).toMatchObject({ entryType: 'dsse', version: 'v2' });
    expect(problemsOf({ 'transparency.entry-type': 'rekord', 'transparency.version': 'v3' }).map((p) => p.key).sort()).toEqual([
      'transparency.entry-type',
      'transparency.version',
    ]);
    expect(problemsOf({ 'transparency.entry-type': 'intoto', 'transparency.version': 'v2' }).map((p) => p.key)).toEqual(['transparency.entry-type']);
  });

  it('warns about unknown keys and Chains keys it does not act on', () => {
    const { warnings } = parseConfig({ 'no.such.key': 'x', 'storage.kafka.topic': 'b' });
    expect(warnings.map((w) => w.key).sort()).toEqual(['no.such.key', 'storage.kafka.topic']);
  });

  it('keeps secret-looking values out of the error message', () => {
    // Values are shown for bad keys so users can see the typo; kmsref values are refs, not secrets,
    // but the PIN in a pkcs11 URI must never be echoed.
    try {
      parseConfig({ 'signers.kms.kmsref': 'bogus:pin-value=123456' });
    } catch (err) {
      expect((err as Error).message).not.toContain('123456');
      return;
    }
    throw new Error('expected an error');
  });
});

describe('configDataFromDocument', () => {
  it('reads a ConfigMap manifest or a plain map, stringifying scalars', () => {
    expect(configDataFromDocument({ kind: 'ConfigMap', data: { 'builder.id': 'x' } })).toEqual({ 'builder.id': 'x' });
    expect(configDataFromDocument({ 'artifacts.pipelinerun.enable-deep-inspection': true })).toEqual({
      'artifacts.pipelinerun.enable-deep-inspection': 'true',
    });
    expect(() => configDataFromDocument(['a'])).toThrow(ProvenantError);
    expect(() => configDataFromDocument({ a: { nested: 1 } })).toThrow(ProvenantError);
  });
});
