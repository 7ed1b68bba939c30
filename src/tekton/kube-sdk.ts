/**
 * `@kubernetes/client-node`, loaded on first use. It is the heaviest dependency (about a second and
 * 85 MB to load on a small machine), and the tekton room's index is also what the pure commands
 * (`provenance`, `verify --bundle`) import for `parseRun`: loading it at import time would make them
 * pay for a cluster they never talk to. The functions here stay synchronous (`loadKubeConfig`
 * returns a `KubeConfig`), so the ES module is loaded with Node 22's synchronous `require(esm)`.
 */
import { createRequire } from 'node:module';
import type * as KubeSdkModule from '@kubernetes/client-node';

export type KubeSdk = typeof KubeSdkModule;

const requireSdk = createRequire(import.meta.url);
let loaded: KubeSdk | undefined;

export function kubeSdk(): KubeSdk {
  loaded ??= requireSdk('@kubernetes/client-node') as KubeSdk;
  return loaded;
}

