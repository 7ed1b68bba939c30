/**
 * A SPIFFE Workload API stand-in (gRPC over a Unix socket) serving `FetchJWTSVID` as SPIRE's agent does:
 * it requires the `workload.spiffe.io: true` metadata and returns one JWT-SVID per request for the
 * requested audience. The SVID comes from `mint(audience)`, so tests decide what it is (an opaque string
 * for Vault, a signed OIDC token for Fulcio). Test-only; messages are hand-encoded like the client's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { decodeFields } from '../../src/signing/spiffe-workload.js';

export interface SpiffeWorkloadTestServer {
  /** `unix:///…/agent.sock` */
  readonly socket: string;
  readonly requests: Array<{ audience: string[]; hadHeader: boolean }>;
  stop(): Promise<void>;
}

function str(field: number, value: string): Buffer {
  const b = Buffer.from(value, 'utf8');
  const len: number[] = [];
  let v = b.length;
  while (v > 0x7f) {
    len.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  len.push(v);
  return Buffer.concat([Buffer.from([(field << 3) | 2]), Buffer.from(len), b]);
}

export async function startSpiffeWorkloadServer(mint: (audience: string) => string | Promise<string>, spiffeId = 'spiffe://example.org/ns/tekton-chains/sa/tekton-chains-controller'): Promise<SpiffeWorkloadTestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'spiffe-'));
  const socket = `unix://${join(dir, 'agent.sock')}`;
  const requests: SpiffeWorkloadTestServer['requests'] = [];
  const server = new grpc.Server();
  const passthrough = (b: Buffer): Buffer => b;
  server.register(
    '/SpiffeWorkloadAPI/FetchJWTSVID',
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const audience = decodeFields(call.request)
        .filter((f) => f.field === 1)
        .map((f) => f.value.toString('utf8'));
      const hadHeader = call.metadata.get('workload.spiffe.io')[0] === 'true';
      requests.push({ audience, hadHeader });
      if (!hadHeader) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'security header missing from request' });
        return;
      }
      void Promise.resolve(mint(audience[0] ?? '')).then((svid) => {
        const inner = Buffer.concat([str(1, spiffeId), str(2, svid)]);
        callback(null, Buffer.concat([Buffer.from([0x0a]), lengthOf(inner), inner]));
      });
    },
    passthrough,
    passthrough,
    'unary',
  );
  await new Promise<void>((resolve, reject) => server.bindAsync(socket, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return {
    socket,
    requests,
    stop: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function lengthOf(b: Buffer): Buffer {
  const out: number[] = [];
  let v = b.length;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
