import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/observability/logger.js';
import type { OciReader } from '../../../src/storage/oci/index.js';
import { traceImage } from '../../../src/verify/trace.js';
import { mayFollow } from '../../../src/verify/trace-limits.js';
import { limits } from '../../../src/limits.js';
import { createTestKey, signProvenance } from '../../support/oci-image.js';

const hex = (i: number): string => i.toString(16).padStart(64, '0');
const root = `registry.example/app@sha256:${hex(1)}`;

describe('trace link limits', () => {
  it('mayFollow: fan-out per statement, graph size for new nodes only', () => {
    expect(mayFollow(0, 0, false)).toBe(true);
    expect(mayFollow(limits.trace.maxFanOut, 0, false)).toBe(false);
    expect(mayFollow(0, limits.trace.maxNodes, false)).toBe(false);
    expect(mayFollow(0, limits.trace.maxNodes, true)).toBe(true);
  });

  it('a statement with more materials than the fan-out: the node is truncated with TRACE_LINK_LIMIT, the rest is not followed', async () => {
    const key = createTestKey();
    const statement = {
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v0.2',
      subject: [{ name: 'registry.example/app', digest: { sha256: hex(1) } }],
      predicate: {
        builder: { id: 'https://tekton.dev/chains/v2' },
        materials: Array.from({ length: 50 }, (_, i) => ({ uri: `oci://registry.example/dep${i}`, digest: { sha256: hex(100 + i) } })),
      },
    };
    const bundle = await signProvenance(key, new TextEncoder().encode(JSON.stringify(statement)));
    const read: string[] = [];
    const reader: OciReader = {
      readAttestations: async (ref) => {
        read.push(ref);
        return { bundles: ref === root ? [bundle] : [], envelopes: [], signatures: [] };
      },
    };
    const graph = await traceImage(root, {
      reader,
      manifestExists: async () => true,
      policies: [{ key: key.publicKeyPem }],
      linkLimits: { maxFanOut: 5, maxNodes: 100 },
      logger: createSilentLogger(),
    });
    const rootNode = graph.nodes.find((n) => n.id === graph.root);
    expect(rootNode).toMatchObject({ verdict: 'verified', truncated: true, reason: 'TRACE_LINK_LIMIT' });
    expect(graph.nodes).toHaveLength(6);
    expect(read).toHaveLength(6);

    const small = await traceImage(root, {
      reader,
      manifestExists: async () => true,
      policies: [{ key: key.publicKeyPem }],
      linkLimits: { maxFanOut: 256, maxNodes: 10 },
      logger: createSilentLogger(),
    });
    expect(small.nodes).toHaveLength(10);
    expect(small.nodes.find((n) => n.id === small.root)).toMatchObject({ truncated: true, reason: 'TRACE_LINK_LIMIT' });
  });
});
