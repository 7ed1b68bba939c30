/**
 * The storage registry (STYLE.md #7): one factory per implemented backend name, typed against
 * `implementedStorageNames`, so a name without an implementation (or an implementation without a
 * name) fails to compile. Chains' other backends are reported as a config error, all at once.
 */
import { implementedStorageNames, type Config, type ImplementedStorageName } from '../config/index.js';
import { ProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { createLocalStorage } from './local-storage.js';
import { createOciStorage, type OciStorageDeps } from './oci/index.js';
import type { LayerTimestamper, TagLock } from './oci/index.js';
import { createTektonStorage, type TektonStorageDeps } from './tekton-storage.js';
import type { StorageBackend } from './types.js';

/** Everything any backend may need; each factory takes its part. */
export interface StorageDeps {
  readonly config: Pick<Config, 'storage'>;
  readonly logger: Logger;
  /** `tekton`: merge-patch the run's annotations (the Kubernetes RunStore). Required when `tekton` is used. */
  readonly patchAnnotations?: TektonStorageDeps['patchAnnotations'];
  /** `tekton`: the run's current annotations, for the size check. */
  readonly getObjectSize?: TektonStorageDeps['getObjectSize'];
  /** `tekton`: ceiling for the run's annotations after the patch. */
  readonly maxAnnotationBytes?: number;
  /** `oci`: registry credentials (docker config from image pull secrets). */
  readonly ociCredentials?: OciStorageDeps['credentials'];
  /** `oci`: ServiceAccount the credentials came from, named in auth errors. */
  readonly serviceAccount?: string;
  /** `oci`: a lock shared by replicas around each tag read-modify-write (Redis, when the queue is BullMQ). */
  readonly ociTagLock?: TagLock;
  /** `oci`: RFC 3161 timestamps over `.att` layer bytes, when a timestamp authority is configured. */
  readonly ociTimestamper?: LayerTimestamper | undefined;
  readonly fetch?: typeof fetch;
}

export type StorageFactory = (deps: StorageDeps) => StorageBackend;

export const storageBackends = {
  tekton: (deps) => {
    if (deps.patchAnnotations === undefined) {
      throw new ProvenantError('config', 'STORAGE_DEPENDENCY_MISSING', 'the tekton storage backend needs access to the Kubernetes API', {
        context: { backend: 'tekton' },
      });
    }
    return createTektonStorage({
      patchAnnotations: deps.patchAnnotations,
      logger: deps.logger,
      ...(deps.getObjectSize === undefined ? {} : { getObjectSize: deps.getObjectSize }),
      ...(deps.maxAnnotationBytes === undefined ? {} : { maxAnnotationBytes: deps.maxAnnotationBytes }),
    });
  },
  oci: (deps) =>
    createOciStorage({
      config: deps.config.storage.oci,
      credentials: deps.ociCredentials,
      logger: deps.logger,
      fetch: deps.fetch,
      serviceAccount: deps.serviceAccount,
      ...(deps.ociTagLock === undefined ? {} : { tagUpdate: { lock: deps.ociTagLock } }),
      timestamper: deps.ociTimestamper,
    }),
  local: (deps) => createLocalStorage({ root: deps.config.storage.local.path, logger: deps.logger }),
} satisfies Record<ImplementedStorageName, StorageFactory>;

export function isImplementedStorageName(name: string): name is ImplementedStorageName {
  return (implementedStorageNames as readonly string[]).includes(name);
}

/**
 * The backends for a configured list (e.g. `artifacts.taskrun.storage`), in order, duplicates removed.
 * Names Tekton Chains has but provenant does not implement (gcs, docdb, grafeas, kafka, archivista)
 * and unknown names throw one `config` `STORAGE_UNSUPPORTED` error naming all of them.
 */
export function createStorageBackends(names: readonly string[], deps: StorageDeps): StorageBackend[] {
  const unique = [...new Set(names.map((n) => n.trim()).filter((n) => n !== ''))];
  const unsupported = unique.filter((n) => !isImplementedStorageName(n));
  if (unsupported.length > 0) {
    throw new ProvenantError('config', 'STORAGE_UNSUPPORTED', `storage backend(s) not supported by provenant: ${unsupported.join(', ')}`, {
      context: { unsupported, supported: [...implementedStorageNames], hint: `use ${implementedStorageNames.join(', ')}` },
    });
  }
  return unique.filter(isImplementedStorageName).map((name) => storageBackends[name](deps));
}
