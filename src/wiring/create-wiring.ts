/**
 * Builds everything one Config needs (signers, storage backends, Rekor client) eagerly, so a bad
 * key or KMS is a config error now, not per run. Process-lifetime parts (the OCI tag writer with
 * its explicit coordination, the PKCS#11 module table) are made once per factory and shared by
 * every wiring it builds, so a reload never runs two tag coordinators or finalises a module that the
 * new wiring still uses.
 */
import type { Signer } from '@sigstore/sign';
import { implementedStorageNames, type Config, type ImplementedStorageName, type StorageName } from '../config/index.js';
import { ProvenantError } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { createPkcs11ModuleTable, createSignersFromConfig, type SignerSet } from '../signing/index.js';
import {
  createIndexReader,
  createStorageBackends,
  createTagWriter,
  type ImageDigestRef,
  type IndexReader,
  type StorageBackend,
  type StorageDeps,
  type TagWriteCoordination,
} from '../storage/index.js';
import type { RunStore } from '../tekton/index.js';
import { createTransparencyWitness, createTsaWitness } from '../transparency/index.js';
import { createTtlCache, serviceAccountCredentials, type PullSecretSource } from './registry-credentials.js';
import type { ClosableWiring, StorageScope } from './types.js';

export interface WiringDeps {
  readonly logger: Logger;
  readonly runStore: Pick<RunStore, 'get' | 'patchAnnotations'> & Partial<PullSecretSource>;
  /**
   * How OCI tag writes are coordinated: `{mode: 'shared', lock}` when every provenant writer of the
   * deployment takes `lock` (no settle wait), `{mode: 'process'}` otherwise (settle wait + re-read).
   */
  readonly tagWrites: TagWriteCoordination;
  /** Use this signer for every artifact instead of the configured ones (embedded default: a generated key). */
  readonly signerOverride?: Signer;
  /** Registry credentials for `oci` storage (mounted docker config); a run's pull secrets come first. */
  readonly ociCredentials?: StorageDeps['ociCredentials'];
  /** Where ServiceAccounts and pull secrets are read for `oci` storage; default the RunStore. */
  readonly pullSecrets?: PullSecretSource;
  /** How long a ServiceAccount's registry credentials (and its `oci` backend) are reused; default 60 s. */
  readonly pullSecretTtlMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
}

export type WiringFactory = (config: Config) => Promise<ClosableWiring>;

export function createWiringFactory(deps: WiringDeps): WiringFactory {
  const tagWriter = createTagWriter(deps.tagWrites);
  const pkcs11Modules = createPkcs11ModuleTable();
  return (config) => buildWiring(config, deps, { tagWriter, pkcs11Modules });
}

/** One wiring, for one-shot users (`provenant sign`, benchmarks). */
export function createWiring(config: Config, deps: WiringDeps): Promise<ClosableWiring> {
  return createWiringFactory(deps)(config);
}

function isImplemented(name: string): name is ImplementedStorageName {
  return (implementedStorageNames as readonly string[]).includes(name);
}

async function buildWiring(
  config: Config,
  deps: WiringDeps,
  shared: { readonly tagWriter: StorageDeps['ociTagWriter']; readonly pkcs11Modules: ReturnType<typeof createPkcs11ModuleTable> },
): Promise<ClosableWiring> {
  const logger = deps.logger;
  let signers: SignerSet | undefined;
  if (deps.signerOverride === undefined) {
    signers = await createSignersFromConfig(config, {
      logger,
      pkcs11Modules: shared.pkcs11Modules,
      ...(deps.env ? { env: deps.env } : {}),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
  }
  const tsaUrl = config.signers.x509.tsa.url;
  const tsa = tsaUrl === undefined ? undefined : createTsaWitness({ url: tsaUrl, logger });
  const storageDeps: StorageDeps = {
    config,
    logger,
    ...(tsa ? { ociTimestamper: (bytes: Uint8Array) => tsa.timestamp(bytes) } : {}),
    // The engine's caller writes `tekton` annotations with `signed` in one patch per run.
    tektonDeferPatch: true,
    getObjectSize: async (run) => {
      const obj = (await deps.runStore.get(run)) as { metadata?: { annotations?: Record<string, string> } } | undefined;
      return { annotations: obj?.metadata?.annotations ?? {} };
    },
    ...(deps.ociCredentials ? { ociCredentials: deps.ociCredentials } : {}),
    ...(shared.tagWriter ? { ociTagWriter: shared.tagWriter } : {}),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  };
  const names = [...new Set([...config.artifacts.taskrun.storage, ...config.artifacts.pipelinerun.storage, ...config.artifacts.oci.storage])];
  const backends = new Map<StorageName, StorageBackend>();
  // `oci` is built per ServiceAccount (its pull secrets); building one now still validates the config.
  // Matched by the backend's own name: the factory de-duplicates and may filter.
  for (const b of createStorageBackends(names, storageDeps)) {
    if (isImplemented(b.name)) backends.set(b.name, b);
  }
  const pullSecrets: PullSecretSource | undefined =
    deps.pullSecrets ??
    (deps.runStore.getServiceAccount && deps.runStore.getSecret
      ? { getServiceAccount: deps.runStore.getServiceAccount.bind(deps.runStore), getSecret: deps.runStore.getSecret.bind(deps.runStore) }
      : undefined);
  /** Per-ServiceAccount `oci` backends (their pull secrets), reused for `pullSecretTtlMs`. */
  const ociByScope = createTtlCache<StorageBackend>(deps.pullSecretTtlMs ?? 60_000);
  const credentialsFor = async (scope: StorageScope): Promise<StorageDeps['ociCredentials']> =>
    pullSecrets === undefined
      ? deps.ociCredentials
      : await serviceAccountCredentials(pullSecrets, scope.namespace, scope.serviceAccountName, { base: deps.ociCredentials, logger });
  const ociFor = (scope: StorageScope): Promise<StorageBackend> =>
    ociByScope.get(`${scope.namespace}/${scope.serviceAccountName}`, async () => {
      const credentials = await credentialsFor(scope);
      const [backend] = createStorageBackends(['oci'], {
        ...storageDeps,
        ...(credentials ? { ociCredentials: credentials } : {}),
        serviceAccount: `${scope.namespace}/${scope.serviceAccountName}`,
      });
      if (backend === undefined) throw new ProvenantError('config', 'STORAGE_NOT_WIRED', 'storage backend oci is not configured');
      return backend;
    });
  /** Per-ServiceAccount index readers (`artifacts.oci.sign-index-manifests`), same credentials as `oci`. */
  const indexByScope = createTtlCache<IndexReader>(deps.pullSecretTtlMs ?? 60_000);
  const indexReaderFor = (scope: StorageScope): Promise<IndexReader> =>
    indexByScope.get(`${scope.namespace}/${scope.serviceAccountName}`, async () =>
      createIndexReader({
        insecure: config.storage.oci.insecure,
        credentials: await credentialsFor(scope),
        logger,
        fetch: deps.fetch,
        serviceAccount: `${scope.namespace}/${scope.serviceAccountName}`,
      }),
    );
  const rekor = config.transparency.mode === 'false' ? undefined : createTransparencyWitness({ transparency: config.transparency, logger });
  return {
    config,
    rekor,
    tsa,
    signer: (section) => {
      const s = deps.signerOverride ?? signers?.signerFor(section);
      if (s === undefined) {
        throw new ProvenantError('config', 'SIGNER_DISABLED', `artifacts.${section}.signer is "none"`, { context: { hint: 'nothing to sign' } });
      }
      return s;
    },
    storage: (name, scope) => {
      const b = backends.get(name);
      if (b === undefined) throw new ProvenantError('config', 'STORAGE_NOT_WIRED', `storage backend ${name} is not configured`);
      return name === 'oci' ? ociFor(scope) : b;
    },
    ...(config.artifacts.oci.signIndexManifests
      ? { platformManifests: async (image: ImageDigestRef, scope: StorageScope) => (await indexReaderFor(scope)).platformManifests(image) }
      : {}),
    close: async () => {
      ociByScope.clear();
      indexByScope.clear();
      await signers?.close();
      for (const b of backends.values()) await b.close?.().catch(() => undefined);
    },
  };
}
