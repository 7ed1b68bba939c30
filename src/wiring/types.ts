import type { Signer, Witness } from '@sigstore/sign';
import type { Config, StorageName } from '../config/index.js';
import type { SignedArtifactKind } from '../signing/index.js';
import type { ImageDigestRef, PlatformManifest, StorageBackend } from '../storage/index.js';

/** The run a store is for: its namespace and ServiceAccount (`default` when the run names none). */
export interface StorageScope {
  readonly namespace: string;
  readonly serviceAccountName: string;
}

/** Everything built from one configuration; swapped as a whole on a ConfigMap change. */
export interface Wiring {
  readonly config: Config;
  /** The signer configured for an artifact section (`artifacts.<section>.signer`); built once per config. */
  signer(section: SignedArtifactKind): Signer;
  /** The Rekor witness, when transparency is enabled (`true` or `manual`). */
  readonly rekor: Witness | undefined;
  /** The RFC 3161 timestamp witness, when `signers.x509.tsa.url` is set: every signature is timestamped. */
  readonly tsa?: Witness | undefined;
  /**
   * The backend for a storage name. `scope` says whose run it stores for: `oci` uses the registry
   * credentials of that run's ServiceAccount (Chains' k8schain), so the backend may differ per scope.
   */
  storage(name: StorageName, scope: StorageScope): StorageBackend | Promise<StorageBackend>;
  /**
   * `artifacts.oci.sign-index-manifests`: the platform manifests of an image that is an index (with
   * the run ServiceAccount's registry credentials), undefined for a plain image. Absent = never read.
   */
  platformManifests?(image: ImageDigestRef, scope: StorageScope): Promise<readonly PlatformManifest[] | undefined>;
}

export interface ClosableWiring extends Wiring {
  close(): Promise<void>;
}
