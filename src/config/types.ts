/**
 * The typed, readonly view of the `chains-config` ConfigMap (plus provenant's own keys).
 * Key names, defaults and allowed values follow Tekton Chains (see ../shared/REFERENCE.md);
 * the allowed-name lists are `as const` tuples that the typed registries also use (STYLE.md #7).
 */

export const formatNames = ['in-toto', 'slsa/v1', 'slsa/v2alpha3', 'slsa/v2alpha4'] as const;
export type FormatName = (typeof formatNames)[number];

export const storageNames = ['tekton', 'oci', 'local', 'gcs', 'docdb', 'grafeas', 'kafka', 'archivista'] as const;
export type StorageName = (typeof storageNames)[number];
/** The backends provenant implements; the others are accepted by config validation only to report them clearly. */
/** `storage.grafeas.*`. */
export interface GrafeasConfig {
  /** `storage.grafeas.projectid`: notes and occurrences go under `projects/<projectId>`. */
  readonly projectId: string | undefined;
  /** `storage.grafeas.noteid`: note-name prefix; undefined = `tekton-<run namespace>` (Chains' default). */
  readonly noteId: string | undefined;
  /** `storage.grafeas.notehint`: the ATTESTATION note's `hint.human_readable_name`. */
  readonly noteHint: string;
  /**
   * `storage.grafeas.server` (provenant): the Grafeas gRPC endpoint. `https://host[:port]` = TLS with
   * Application Default Credentials (default `https://containeranalysis.googleapis.com`, as Chains);
   * `http://host:port` = plaintext without credentials (an in-cluster open-source Grafeas server).
   */
  readonly server: string;
}

export const implementedStorageNames = ['tekton', 'oci', 'local', 'gcs', 'archivista', 'grafeas', 'docdb'] as const;
export type ImplementedStorageName = (typeof implementedStorageNames)[number];

/** `signers.x509.fulcio.provider` values (cosign's provider names Chains accepts). */
export const fulcioProviderNames = ['filesystem', 'github', 'google', 'spiffe'] as const;
export type FulcioProviderName = (typeof fulcioProviderNames)[number];

export const signerNames = ['x509', 'kms', 'none'] as const;
export type SignerName = (typeof signerNames)[number];

export const ociEncodingNames = ['dsse', 'sigstore-bundle', 'both'] as const;
export type OciEncoding = (typeof ociEncodingNames)[number];

export const buildTypes = ['https://tekton.dev/chains/v2/slsa', 'https://tekton.dev/chains/v2/slsa-tekton'] as const;
export type BuildType = (typeof buildTypes)[number];

export type TransparencyMode = 'true' | 'manual' | 'false';

/** `transparency.entry-type` (provenant): the Rekor type for DSSE envelopes; image signatures are always hashedrekord. */
export const transparencyEntryTypes = ['dsse', 'intoto'] as const;
export type TransparencyEntryType = (typeof transparencyEntryTypes)[number];

/** `transparency.version` (provenant): Rekor v1 (REST, search index) or v2 (rekor-tiles). */
export const transparencyVersions = ['v1', 'v2'] as const;
export type TransparencyVersion = (typeof transparencyVersions)[number];

export interface ArtifactConfig {
  readonly format: FormatName;
  /** Empty = storage disabled for this artifact kind. Order preserved, duplicates removed. */
  readonly storage: readonly StorageName[];
  readonly signer: SignerName;
}

export interface OciArtifactConfig {
  readonly format: 'simplesigning';
  readonly storage: readonly StorageName[];
  readonly signer: SignerName;
  /**
   * `artifacts.oci.sign-index-manifests` (provenant, tektoncd/chains#1070): when a built image is an
   * image index / manifest list, also sign each platform manifest and name them as provenance subjects.
   */
  readonly signIndexManifests: boolean;
}

export interface Config {
  readonly artifacts: {
    readonly taskrun: ArtifactConfig;
    readonly pipelinerun: ArtifactConfig & { readonly enableDeepInspection: boolean };
    readonly oci: OciArtifactConfig;
  };
  readonly storage: {
    readonly oci: {
      /** Repository overriding the image's own (`storage.oci.repository`); undefined = next to the image. */
      readonly repository: string | undefined;
      readonly insecure: boolean;
      readonly encoding: OciEncoding;
    };
    readonly local: {
      /** `storage.local.path` (provenant): root directory of the `local` backend. */
      readonly path: string;
    };
    /** `storage.gcs.bucket`: required when a `gcs` backend is configured. */
    readonly gcs: { readonly bucket: string | undefined };
    /** `storage.archivista.url`: required when an `archivista` backend is configured. */
    readonly archivista: { readonly url: string | undefined };
    /**
     * `storage.docdb.*`: a go-cloud docstore collection URL (required when a `docdb` backend is configured;
     * validated at load: `mongo://`, `dynamodb://`, `firestore://`; see docs/storage-docdb.md) and where the MongoDB
     * connection string comes from (`mongo-server-url-path` > `-dir` > `mongo-server-url` > `$MONGO_SERVER_URL`).
     */
    readonly docdb: {
      readonly url: string | undefined;
      readonly mongoServerUrl: string | undefined;
      readonly mongoServerUrlDir: string | undefined;
      readonly mongoServerUrlPath: string | undefined;
    };
    /** `storage.grafeas.*`: Chains' three keys (projectid required when `grafeas` is configured) and provenant's `server`. */
    readonly grafeas: GrafeasConfig;
  };
  readonly signers: {
    readonly kms: {
      /** `signers.kms.kmsref`: awskms://, gcpkms://, hashivault://, pkcs11: (provenant), azurekms:// (not implemented). */
      readonly kmsref: string | undefined;
      /** `signers.kms.auth.*`: how the KMS client authenticates (Vault today), as Chains reads them. */
      readonly auth: KmsAuthConfig;
    };
    readonly x509: {
      readonly fulcio: {
        readonly enabled: boolean;
        readonly address: string;
        readonly issuer: string;
        /** Where the OIDC token comes from; undefined = `filesystem` (the token file). */
        readonly provider: FulcioProviderName | undefined;
      };
      /**
       * `signers.x509.tsa.url` (provenant): an RFC 3161 timestamp authority. Every signature then carries a
       * signed timestamp, which proves when it was made (keyless verification without, or besides, a log entry).
       */
      readonly tsa: { readonly url: string | undefined };
      /** `signers.x509.identity.token.file`; default the projected token path Chains uses. */
      readonly identityTokenFile: string;
      readonly tufMirrorUrl: string;
    };
    /** `signers.secret.path` (provenant): the mounted signing Secret directory. */
    readonly secretPath: string;
  };
  readonly transparency: {
    readonly mode: TransparencyMode;
    readonly url: string;
    /** `dsse` (default, what Chains' successors and cosign write) or `intoto` 0.0.2 (Rekor keeps the envelope). */
    readonly entryType: TransparencyEntryType;
    readonly version: TransparencyVersion;
  };
  readonly builder: { readonly id: string };
  readonly buildDefinition: { readonly buildType: BuildType };
  readonly filter: { readonly managedBy: readonly string[] };
}

/** `signers.kms.auth.*` (Tekton Chains' names). Secrets here (`token`) are never logged. */
export interface KmsAuthConfig {
  /** `signers.kms.auth.address` (VAULT_ADDR). */
  readonly address: string | undefined;
  /** `signers.kms.auth.token` (VAULT_TOKEN); `token-path` wins when both are set. */
  readonly token: string | undefined;
  readonly tokenPath: string | undefined;
  readonly oidc: {
    /** Vault auth mount (`jwt`, `kubernetes` …); login happens only with both path and role. */
    readonly path: string | undefined;
    readonly role: string | undefined;
    /** JWT file for the login; default the ServiceAccount token. */
    readonly tokenPath: string;
  };
  readonly spire: {
    /** Workload API socket (`unix:///…`): a JWT-SVID becomes the login JWT. */
    readonly sock: string | undefined;
    readonly audience: string | undefined;
  };
}

export const defaultServiceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** A problem with one ConfigMap key; all problems are reported together. */
export interface ConfigProblem {
  readonly key: string;
  readonly value: string | undefined;
  readonly message: string;
}

export interface ParsedConfig {
  readonly config: Config;
  /** Unknown keys and other non-fatal remarks. */
  readonly warnings: readonly ConfigProblem[];
}

export const defaultSecretPath = '/etc/signing-secrets';
export const defaultIdentityTokenFile = '/var/run/sigstore/cosign/oidc-token';
