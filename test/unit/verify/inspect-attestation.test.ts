import { describe, expect, it } from 'vitest';
import { artifactsFromAnnotations, describeBundle, describeProvenance } from '../../../src/verify/inspect-attestation.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('artifactsFromAnnotations', () => {
  const statement = JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'p', subject: [], predicate: {} });
  const envelope = JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: b64(statement), signatures: [{ keyid: 'k1', sig: b64('sig') }] });

  it('rebuilds a key-signed v0.3 DSSE bundle and a message-signature bundle; skips entries without a signature', () => {
    const simple = '{"critical":{"identity":{"docker-reference":"r.example/app"},"image":{"docker-manifest-digest":"sha256:aa"}}}';
    const found = artifactsFromAnnotations({
      'chains.tekton.dev/payload-taskrun-u1': b64(statement),
      'chains.tekton.dev/signature-taskrun-u1': b64(envelope),
      'chains.tekton.dev/cert-taskrun-u1': '',
      'chains.tekton.dev/chain-taskrun-u1': '',
      'chains.tekton.dev/payload-aaaaaaaaaaaa': b64(simple),
      'chains.tekton.dev/signature-aaaaaaaaaaaa': b64('raw-signature'),
      'chains.tekton.dev/payload-orphan': b64('x'),
    });
    expect(found.map((a) => [a.shortKey, a.type, a.payloadMismatch])).toEqual([
      ['aaaaaaaaaaaa', 'image-signature', false],
      ['taskrun-u1', 'provenance', false],
    ]);
    const provenance = found[1]!;
    expect(provenance.bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(provenance.bundle.verificationMaterial.publicKey).toEqual({ hint: 'k1' });
    expect(provenance.annotations).toHaveLength(4);
    const image = describeBundle(found[0]!.bundle, found[0]!.payload);
    expect(image.image).toEqual({ reference: 'r.example/app', digest: 'sha256:aa' });
    expect(describeBundle(provenance.bundle).signer).toEqual({ type: 'key', keyId: 'k1' });
  });

  it('flags a payload annotation that differs from the signed payload', () => {
    const [a] = artifactsFromAnnotations({
      'chains.tekton.dev/payload-taskrun-u1': b64('{"forged":true}'),
      'chains.tekton.dev/signature-taskrun-u1': b64(envelope),
    });
    expect(a?.payloadMismatch).toBe(true);
  });
});

describe('describeProvenance', () => {
  it('SLSA v1: builder, build type, resolvedDependencies, externalParameters keys, run times', () => {
    const d = describeProvenance({
      predicate: {
        buildDefinition: {
          buildType: 'https://tekton.dev/chains/v2/slsa',
          externalParameters: { runSpec: {}, buildConfigSource: {} },
          resolvedDependencies: [{ uri: 'git+https://g/x.git', digest: { sha1: 'ab' } }, { name: 'pipelineTask', content: 'e30=' }],
        },
        runDetails: { builder: { id: 'b' }, metadata: { startedOn: 's', finishedOn: 'f' } },
      },
    });
    expect(d).toEqual({
      builderId: 'b',
      buildType: 'https://tekton.dev/chains/v2/slsa',
      materials: [
        { uri: 'git+https://g/x.git', digest: { sha1: 'ab' } },
        { uri: 'pipelineTask', digest: {} },
      ],
      parameters: ['buildConfigSource', 'runSpec'],
      startedOn: 's',
      finishedOn: 'f',
    });
  });

  it('SLSA v0.2: materials, invocation parameters and config source', () => {
    const d = describeProvenance({
      predicate: {
        builder: { id: 'b' },
        buildType: 'tekton.dev/v1/TaskRun',
        invocation: { configSource: { uri: 'git+https://g/x.git' }, parameters: { b: 1, a: 2 } },
        materials: [{ uri: 'oci://busybox', digest: { sha256: 'cd' } }],
        metadata: { buildStartedOn: 's' },
      },
    });
    expect(d).toEqual({
      builderId: 'b',
      buildType: 'tekton.dev/v1/TaskRun',
      materials: [{ uri: 'oci://busybox', digest: { sha256: 'cd' } }],
      parameters: ['a', 'b'],
      configSource: 'git+https://g/x.git',
      startedOn: 's',
    });
  });
});
