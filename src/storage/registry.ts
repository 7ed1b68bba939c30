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
import type { LayerTimestamper, TagWriter } from './oci/index.js';
import { createTektonStorage, type TektonStorageDeps } from './tekton-storage.js';
import type { StorageBackend } from './types.js';

/** Everything any backend may need; each factory takes its part. */
export interface StorageDeps {
  /** `signers` is read only by `grafeas` (Chains' keyid = `signers.kms.kmsref`). */
  readonly config: Pick<Config, 'storage'> & Partial<Pick<Config, 'signers'>>;
  readonly logger: Logger;
  /**
   * `tekton`: merge-patch the run's annotations (the Kubernetes RunStore). Required when `tekton` is
   * used, unless `tektonDeferPatch`.
   */
  readonly patchAnnotations?: TektonStorageDeps['patchAnnotations'];
  /** `tekton`: return the annotations to the caller, who writes them with its one patch per run. */
  readonly tektonDeferPatch?: boolean;
  /** `tekton`: the run's current annotations, for the size check. */
  readonly getObjectSize?: TektonStorageDeps['getObjectSize'];
  /** `tekton`: ceiling for the run's annotations after the patch. */
  readonly maxAnnotationBytes?: number;
  /** `oci`: registry credentials (docker config from image pull secrets). */
  readonly ociCredentials?: OciStorageDeps['credentials'];
  /** `oci`: ServiceAccount the credentials came from, named in auth errors. */
  readonly serviceAccount?: string;
  /** `oci`: the process's tag writer (one per process, so every `oci` backend coordinates through it). */
  readonly ociTagWriter?: TagWriter;
  /** `oci`: RFC 3161 timestamps over `.att` layer bytes, when a timestamp authority is configured. */
  readonly ociTimestamper?: LayerTimestamper | undefined;
  readonly fetch?: typeof fetch;
  /** `docdb`: the environment `MONGO_SERVER_URL` and AWS credentials come from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export type StorageFactory = (deps: StorageDeps) => StorageBackend;

export const storageBackends = {
  tekton: (deps) => {
    if (deps.tektonDeferPatch === true) {
      return createTektonStorage({
        logger: deps.logger,
        ...(deps.getObjectSize === undefined ? {} : { getObjectSize: deps.getObjectSize }),
        ...(deps.maxAnnotationBytes === undefined ? {} : { maxAnnotationBytes: deps.maxAnnotationBytes }),
      });
    }
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
      ...(deps.ociTagWriter === undefined ? {} : { tagWriter: deps.ociTagWriter }),
      timestamper: deps.ociTimestamper,
    }),
  local: (deps) => createLocalStorage({ root: deps.config.storage.local.path, logger: deps.logger }),
  gcs: (deps) => {
    const bucket = setting(deps.config.storage.gcs.bucket, 'storage.gcs.bucket', 'gcs');
    return lazyBackend('gcs', async () => (await import('./gcs-storage.js')).createGcsStorage({ bucket, logger: deps.logger }));
  },
  archivista: (deps) => {
    const url = setting(deps.config.storage.archivista.url, 'storage.archivista.url', 'archivista');
    const { fetch: f, patchAnnotations } = deps;
    return lazyBackend('archivista', async () =>
      (await import('./archivista-storage.js')).createArchivistaStorage({ url, logger: deps.logger, ...(f === undefined ? {} : { fetch: f }), ...(patchAnnotations === undefined ? {} : { patchAnnotations }) }),
    );
  },
  grafeas: (deps) => {
    const g = deps.config.storage.grafeas;
    const projectId = setting(g.projectId, 'storage.grafeas.projectid', 'grafeas');
    const keyId = deps.config.signers?.kms.kmsref;
    return lazyBackend('grafeas', async () => (await import('./grafeas-storage.js')).createGrafeasStorage({ config: { ...g, projectId }, keyId, logger: deps.logger }));
  },
  docdb: (deps) => {
    setting(deps.config.storage.docdb.url, 'storage.docdb.url', 'docdb');
    const { docdb } = deps.config.storage;
    return lazyBackend('docdb', async () => (await import('./docdb-storage.js')).createDocdbStorage({ config: docdb, logger: deps.logger, ...(deps.env === undefined ? {} : { env: deps.env }) }));
  },
} satisfies Record<ImplementedStorageName, StorageFactory>;

function setting(value: string | undefined, key: string, backend: string): string {
  if (value !== undefined && value !== '') return value;
  throw new ProvenantError('config', 'STORAGE_DEPENDENCY_MISSING', `the ${backend} storage backend needs ${key}`, { context: { backend, key } });
}

/** A backend whose module (and SDK) is imported on its first `store`. */
function lazyBackend(name: string, load: () => Promise<StorageBackend>): StorageBackend {
  let loaded: Promise<StorageBackend> | undefined;
  return {
    name,
    store: async (request) => {
      loaded ??= load();
      return (await loaded).store(request);
    },
    close: async () => {
      const l = loaded;
      loaded = undefined;
      if (l !== undefined) await (await l.catch(() => undefined))?.close?.();
    },
  };
}

export function isImplementedStorageName(name: string): name is ImplementedStorageName {
  return (implementedStorageNames as readonly string[]).includes(name);
}

/**
 * The backends for a configured list (e.g. `artifacts.taskrun.storage`), in order, duplicates removed.
 * Names Tekton Chains has but provenant does not implement (kafka)
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
