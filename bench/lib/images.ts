/**
 * Pushes many small, distinct images to the loopback registry quickly: each repository gets one
 * config and one layer blob, and each image is a manifest (with a unique annotation) PUT by digest.
 * `oci` storage checks that the image exists before attaching signatures, so the runs must name
 * real manifests.
 */
import { createHash } from 'node:crypto';
import type { BuiltImage } from './runs.js';
import { shapeOf } from './runs.js';

const manifestType = 'application/vnd.oci.image.manifest.v1+json';

function digestOf(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function pushBlob(base: string, repo: string, bytes: Uint8Array): Promise<{ digest: string; size: number }> {
  const digest = digestOf(bytes);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload start: ${start.status}`);
  const location = start.headers.get('location') ?? '';
  const url = new URL(location, base);
  url.searchParams.set('digest', digest);
  const put = await fetch(url, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: ${put.status}`);
  return { digest, size: bytes.length };
}

export interface ImagePusher {
  /** Images for run `index` of `prefix` (count from `shapeOf`), pushed. */
  imagesFor(prefix: string, index: number): Promise<BuiltImage[]>;
  readonly pushed: number;
}

/** `host` is `127.0.0.1:<port>`; images go into `repos` repositories, round robin. */
export function createImagePusher(host: string, repos = 16): ImagePusher {
  const base = `http://${host}`;
  const prepared = new Map<string, Promise<{ config: { digest: string; size: number }; layer: { digest: string; size: number } }>>();
  let pushed = 0;
  const prepare = (repo: string) => {
    let p = prepared.get(repo);
    if (p === undefined) {
      p = (async () => {
        const layer = await pushBlob(base, repo, new TextEncoder().encode(`bench layer for ${repo}`));
        const config = await pushBlob(
          base,
          repo,
          new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} })),
        );
        return { config, layer };
      })();
      prepared.set(repo, p);
    }
    return p;
  };
  return {
    get pushed() {
      return pushed;
    },
    async imagesFor(prefix, index) {
      const { images } = shapeOf(index);
      const out: BuiltImage[] = [];
      for (let k = 0; k < images; k++) {
        const repo = `bench/app-${(index * 5 + k) % repos}`;
        const { config, layer } = await prepare(repo);
        const manifest = JSON.stringify({
          schemaVersion: 2,
          mediaType: manifestType,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
          annotations: { 'bench.provenant.dev/run': `${prefix}-${index}-${k}` },
        });
        const digest = digestOf(manifest);
        const res = await fetch(`${base}/v2/${repo}/manifests/${digest}`, { method: 'PUT', body: manifest, headers: { 'Content-Type': manifestType } });
        if (res.status !== 201) throw new Error(`manifest put: ${res.status}`);
        pushed++;
        out.push({ name: `${host}/${repo}`, digest });
      }
      return out;
    },
  };
}

/** Runs `fn` over 0..n-1 with at most `concurrency` in flight, preserving result order. */
export async function mapLimit<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}
