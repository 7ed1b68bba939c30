export type { ArtifactSubject, StoreRequest, StoreResult, StorageBackend } from './types.js';
export { createStorageBackends, isImplementedStorageName, storageBackends, type StorageDeps, type StorageFactory } from './registry.js';
export { createLocalStorage, localRunDirectory, readLocal, type LocalEntry, type LocalStorageDeps } from './local-storage.js';
export {
  annotationsForStorage,
  annotationsSize,
  createTektonStorage,
  defaultMaxAnnotationBytes,
  kubernetesAnnotationsLimitBytes,
  type RunObjectSize,
  type TektonStorageDeps,
} from './tekton-storage.js';
export * from './oci/index.js';
