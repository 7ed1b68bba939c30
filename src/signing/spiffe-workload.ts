/**
 * A JWT-SVID from the SPIFFE Workload API (`FetchJWTSVID`), over the agent's Unix socket.
 *
 * Used by `signers.kms.auth.spire.*` (Vault login with the SVID, as Chains does through go-spiffe) and by
 * the `spiffe` keyless token provider (audience `sigstore`). The three messages involved are tiny, so they
 * are encoded here by hand (protobuf wire format) instead of loading the proto file; gRPC itself is loaded
 * lazily. The SVID is a bearer token: it never reaches an error message or a log line.
 */
import { ProvenantError } from '../errors.js';

/** `unix:///path` (go-spiffe's form), `unix:/path` or a bare absolute path → grpc-js target. */
export function workloadApiTarget(sock: string): string {
  if (sock.startsWith('unix://')) return `unix://${sock.slice('unix://'.length).replace(/^\/*/, '/')}`;
  if (sock.startsWith('unix:')) return `unix://${sock.slice('unix:'.length).replace(/^\/*/, '/')}`;
  if (sock.startsWith('/')) return `unix://${sock}`;
  throw new ProvenantError('config', 'SPIFFE_SOCKET_INVALID', 'the SPIFFE Workload API socket must be unix:///<path> or an absolute path', {
    context: { hint: 'e.g. unix:///spiffe-workload-api/spire-agent.sock' },
  });
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function stringField(field: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/** JWTSVIDRequest { repeated string audience = 1; string spiffe_id = 2; } */
export function encodeJwtSvidRequest(audience: readonly string[], spiffeId?: string): Buffer {
  return Buffer.concat([...audience.map((a) => stringField(1, a)), ...(spiffeId ? [stringField(2, spiffeId)] : [])]);
}

/** Length-delimited fields of one message, by field number (other wire types are skipped). */
export function decodeFields(buf: Buffer): Array<{ field: number; value: Buffer }> {
  const out: Array<{ field: number; value: Buffer }> = [];
  let i = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 1;
    for (;;) {
      const b = buf[i];
      if (b === undefined) throw new Error('truncated varint');
      i += 1;
      result += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return result;
      shift *= 128;
    }
  };
  while (i < buf.length) {
    const tag = readVarint();
    const wire = tag & 7;
    const field = Math.floor(tag / 8);
    if (wire === 2) {
      const len = readVarint();
      if (i + len > buf.length) throw new Error('truncated field');
      out.push({ field, value: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 0) readVarint();
    else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

export interface JwtSvid {
  readonly spiffeId: string;
  readonly svid: string;
}

/** JWTSVIDResponse { repeated JWTSVID svids = 1; }  JWTSVID { string spiffe_id = 1; string svid = 2; string hint = 3; } */
export function decodeJwtSvidResponse(buf: Buffer): JwtSvid[] {
  return decodeFields(buf)
    .filter((f) => f.field === 1)
    .map((f) => {
      const inner = decodeFields(f.value);
      const get = (n: number): string => inner.find((x) => x.field === n)?.value.toString('utf8') ?? '';
      return { spiffeId: get(1), svid: get(2) };
    });
}

export interface FetchJwtSvidOptions {
  /** `signers.kms.auth.spire.sock` or the SPIFFE_ENDPOINT_SOCKET value. */
  readonly socket: string;
  readonly audience: string;
  readonly timeoutMs?: number;
}

/** Asks the Workload API for one JWT-SVID for `audience` and returns the first one (the default identity). */
export async function fetchJwtSvid(opts: FetchJwtSvidOptions): Promise<JwtSvid> {
  const target = workloadApiTarget(opts.socket);
  const grpc = await import('@grpc/grpc-js');
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  // Required by the Workload API spec: proves the caller is not a browser/SSRF proxy.
  metadata.set('workload.spiffe.io', 'true');
  try {
    const response = await new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(
        '/SpiffeWorkloadAPI/FetchJWTSVID',
        (req: Buffer) => req,
        (res: Buffer) => res,
        encodeJwtSvidRequest([opts.audience]),
        metadata,
        { deadline: Date.now() + (opts.timeoutMs ?? 10_000) },
        (err, value) => (err || value === undefined ? reject(err ?? new Error('empty response')) : resolve(value)),
      );
    });
    const first = decodeJwtSvidResponse(response)[0];
    if (first === undefined || first.svid === '') {
      throw new ProvenantError('transient', 'SPIFFE_NO_SVID', 'the SPIFFE Workload API returned no JWT-SVID', {
        context: { audience: opts.audience, hint: 'check that a SPIRE registration entry matches this workload' },
      });
    }
    return first;
  } catch (err) {
    if (err instanceof ProvenantError) throw err;
    const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
    // PERMISSION_DENIED (7) is how SPIRE says "no identity for this workload"; the rest is the agent not answering.
    const permanent = code === 7;
    throw new ProvenantError(permanent ? 'config' : 'transient', permanent ? 'SPIFFE_NO_IDENTITY' : 'SPIFFE_UNAVAILABLE', `SPIFFE Workload API FetchJWTSVID failed (gRPC status ${String(code ?? 'none')})`, {
      context: { audience: opts.audience, hint: 'check the SPIRE agent socket is mounted and a registration entry matches this workload' },
    });
  } finally {
    client.close();
  }
}
