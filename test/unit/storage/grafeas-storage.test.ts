import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { isProvenantError } from '../../../src/errors.js';
import {
  fromStruct,
  grafeasResourceUris,
  grafeasUriFilter,
  grafeasWritesFor,
  inTotoStatementProto,
  toStruct,
  toTimestamp,
} from '../../../src/storage/grafeas-storage.js';
import type { StoreRequest } from '../../../src/storage/types.js';
import { parseUriFilter } from '../../support/grafeas-server.js';

const run = { kind: 'TaskRun' as const, namespace: 'builds', name: 'r', uid: 'u' };
const digest = 'a'.repeat(64);
const v02 = {
  _type: 'https://in-toto.io/Statement/v0.1',
  predicateType: 'https://slsa.dev/provenance/v0.2',
  subject: [{ name: 'gcr.io/p/app', digest: { sha256: digest } }],
  predicate: {
    builder: { id: 'https://tekton.dev/chains/v2' },
    buildType: 'tekton.dev/v1beta1/TaskRun',
    invocation: { configSource: { uri: 'git+https://g/x', digest: { sha1: 'b'.repeat(40) }, entryPoint: 'build.yaml' }, parameters: { n: 1 }, environment: { labels: {} } },
    buildConfig: { steps: [{ entryPoint: 'x' }] },
    metadata: { buildStartedOn: '2024-01-01T00:00:00Z', buildFinishedOn: '2024-01-01T00:01:00.000000123Z', completeness: { parameters: true }, reproducible: false },
    materials: [{ uri: 'oci://busybox', digest: { sha256: 'c'.repeat(64) } }],
  },
};

function request(type: 'provenance' | 'image-signature', payload: unknown, subjects = v02.subject): StoreRequest {
  const bytes = new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const b64 = Buffer.from(bytes).toString('base64');
  const material = { publicKey: { hint: '' }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } };
  const bundle =
    type === 'provenance'
      ? { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: material, dsseEnvelope: { payload: b64, payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'c2ln', keyid: '' }] } }
      : { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: material, messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: '' }, signature: 'c2ln' } };
  return { run, artifact: { type, shortKey: type === 'provenance' ? 'taskrun-u' : digest.slice(0, 12), subjects }, payload: bytes, bundle: bundle as never };
}

describe('grafeas: names, URIs and proto shapes (pure)', () => {
  it("note ids: <noteid>-<kind>-intoto (BUILD) and <noteid>-simplesigning (ATTESTATION); default prefix tekton-<namespace>", () => {
    const opts = { projectId: 'p', noteHint: 'h' };
    expect(grafeasWritesFor(request('provenance', v02), opts).noteId).toBe('tekton-builds-taskrun-intoto');
    expect(grafeasWritesFor({ ...request('provenance', v02), run: { ...run, kind: 'PipelineRun' } }, { ...opts, noteId: 'chains' }).noteId).toBe('chains-pipelinerun-intoto');
    const img = grafeasWritesFor(request('image-signature', '{"critical":{}}'), { ...opts, noteId: 'chains', keyId: 'awskms:///alias/k' });
    expect(img.noteId).toBe('chains-simplesigning');
    expect(img.note).toEqual({ shortDescription: 'OCI Artifact Attestation Note', attestation: { hint: { humanReadableName: 'h' } } });
    expect(img.occurrences).toHaveLength(1);
    expect(img.occurrences[0]?.occurrence).toMatchObject({
      resourceUri: `gcr.io/p/app@sha256:${digest}`,
      noteName: 'projects/p/notes/chains-simplesigning',
      envelope: { payloadType: 'application/vnd.dev.cosign.simplesigning.v1+json', signatures: [{ sig: Buffer.from('sig'), keyid: 'awskms:///alias/k' }] },
      attestation: { serializedPayload: Buffer.from('{"critical":{}}'), signatures: [{ signature: Buffer.from('sig'), publicKeyId: 'awskms:///alias/k' }] },
    });
  });

  it('one BUILD occurrence per subject and digest, the sig being the DSSE envelope JSON (Chains)', () => {
    const subjects = [
      { name: 'gcr.io/p/app', digest: { sha256: digest, sha512: 'd'.repeat(128) } },
      { name: 'gcr.io/p/app', digest: { sha256: digest } },
    ];
    expect(grafeasResourceUris(subjects)).toEqual([`gcr.io/p/app@sha256:${digest}`, `gcr.io/p/app@sha512:${'d'.repeat(128)}`]);
    const w = grafeasWritesFor(request('provenance', v02, subjects), { projectId: 'p', noteHint: 'h' });
    expect(w.note).toEqual({ shortDescription: 'Build Provenance Note for TaskRun', build: { builderVersion: 'tekton.dev/v1/TaskRun' } });
    expect(w.occurrences.map((o) => o.resourceUri)).toEqual(grafeasResourceUris(subjects));
    const env = w.occurrences[0]?.occurrence['envelope'] as { payloadType: string; signatures: { sig: Buffer }[] };
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    expect(JSON.parse(env.signatures[0]!.sig.toString('utf8'))).toMatchObject({ payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'c2ln' }] });
    // A statement without subjects writes nothing (Chains: note, no occurrence).
    expect(grafeasWritesFor(request('provenance', v02, []), { projectId: 'p', noteHint: 'h' }).occurrences).toEqual([]);
    expect(() => grafeasWritesFor(request('provenance', 'nope'), { projectId: 'p', noteHint: 'h' })).toThrow(expect.objectContaining({ code: 'GRAFEAS_PAYLOAD_INVALID' }));
  });

  it('maps an SLSA v0.2 statement as grafeasutil.ToProto does', () => {
    const p = inTotoStatementProto(v02);
    expect(p).toMatchObject({
      type: v02._type,
      predicateType: v02.predicateType,
      subject: v02.subject,
      slsaProvenanceZeroTwo: {
        builder: { id: 'https://tekton.dev/chains/v2' },
        buildType: 'tekton.dev/v1beta1/TaskRun',
        invocation: { configSource: { uri: 'git+https://g/x', digest: { sha1: 'b'.repeat(40) }, entryPoint: 'build.yaml' }, parameters: { fields: { n: { numberValue: 1 } } } },
        metadata: { buildStartedOn: { seconds: '1704067200', nanos: 0 }, buildFinishedOn: { seconds: '1704067260', nanos: 123 }, completeness: { parameters: true, environment: false, materials: false } },
        materials: [{ uri: 'oci://busybox', digest: { sha256: 'c'.repeat(64) } }],
      },
    });
    expect(fromStruct(toStruct(v02.predicate))).toEqual(v02.predicate);
    expect(toTimestamp('2024-01-01T02:00:00.5+02:00')).toEqual({ seconds: '1704067200', nanos: 500000000 });
    expect(toTimestamp('nope')).toBeUndefined();
  });

  it("the resourceUrl filter round-trips Go-style quoting (Chains' %q)", () => {
    const uris = ['a@sha256:1', 'we"ird\\name@sha256:2'];
    expect(grafeasUriFilter(uris)).toBe('resourceUrl="a@sha256:1" OR resourceUrl="we\\"ird\\\\name@sha256:2"');
    expect(parseUriFilter(grafeasUriFilter(uris))).toEqual(uris);
  });
});

describe('storage.grafeas.* config keys', () => {
  const problems = (data: Record<string, string>): string[] => {
    try {
      parseConfig(data);
      return [];
    } catch (err) {
      if (!isProvenantError(err, 'CONFIG_INVALID')) throw err;
      return (err.context['problems'] as { key: string }[]).map((p) => p.key).sort();
    }
  };

  it("accepts Chains' documented values; notehint defaults to Chains' text; server to Container Analysis", () => {
    const { config, warnings } = parseConfig({ 'artifacts.oci.storage': 'grafeas', 'storage.grafeas.projectid': 'my-project', 'storage.grafeas.noteid': 'tekton-chains' });
    expect(warnings).toEqual([]);
    expect(config.storage.grafeas).toEqual({
      projectId: 'my-project',
      noteId: 'tekton-chains',
      noteHint: 'This attestation note was generated by Tekton Chains',
      server: 'https://containeranalysis.googleapis.com',
    });
    expect(parseConfig({ 'storage.grafeas.projectid': 'example.com:proj', 'storage.grafeas.notehint': 'a note', 'storage.grafeas.server': 'http://grafeas.grafeas:8080' }).config.storage.grafeas).toMatchObject({
      projectId: 'example.com:proj',
      noteHint: 'a note',
      server: 'http://grafeas.grafeas:8080',
    });
  });

  it('reports every bad key at once: missing projectid, spaces in noteid, a server with a path', () => {
    expect(problems({ 'artifacts.taskrun.storage': 'grafeas', 'storage.grafeas.noteid': 'has space', 'storage.grafeas.server': 'https://x/v1', 'storage.gcs.bucket': '', 'artifacts.pipelinerun.storage': 'gcs' })).toEqual([
      'storage.gcs.bucket',
      'storage.grafeas.noteid',
      'storage.grafeas.projectid',
      'storage.grafeas.server',
    ]);
    expect(problems({ 'artifacts.taskrun.storage': 'grafeas', 'storage.grafeas.projectid': 'a/b' })).toEqual(['storage.grafeas.projectid']);
  });
});
