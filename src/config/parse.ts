import { ProvenantError } from '../errors.js';
import { checkConfigMapLimits } from './config-limits.js';
import { parseDocdbUrl, redactUrlPassword } from './docdb-url.js';
import { keylessVerifiabilityProblems } from './keyless.js';
import {
  buildTypes,
  defaultIdentityTokenFile,
  defaultSecretPath,
  defaultServiceAccountTokenPath,
  formatNames,
  fulcioProviderNames,
  implementedStorageNames,
  ociEncodingNames,
  signerNames,
  storageNames,
  transparencyEntryTypes,
  transparencyVersions,
  type BuildType,
  type Config,
  type ConfigProblem,
  type FormatName,
  type FulcioProviderName,
  type GrafeasConfig,
  type KmsAuthConfig,
  type OciEncoding,
  type ParsedConfig,
  type SignerName,
  type StorageName,
  type TransparencyEntryType,
  type TransparencyMode,
  type TransparencyVersion,
} from './types.js';

/**
 * Parses the `chains-config` ConfigMap data into a typed `Config`.
 *
 * Deliberate differences from Tekton Chains (docs/configuration.md):
 * - every invalid value is reported, all at once, in one `CONFIG_INVALID` error; Chains silently
 *   treats an invalid boolean as false;
 * - storage backends Chains has but provenant does not implement (kafka), docdb URLs it cannot serve
 *   (mem://) and KMS schemes it does not implement are errors, not
 *   silent no-ops at signing time;
 * - `signer: kms` without `signers.kms.kmsref` is an error at load time, not on every run.
 */

type Data = Readonly<Record<string, string>>;

interface Ctx {
  readonly data: Data;
  readonly problems: ConfigProblem[];
  readonly used: Set<string>;
}

// strconv.ParseBool's accepted spellings, as Chains uses.
const trueWords = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const falseWords = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function raw(ctx: Ctx, key: string): string | undefined {
  ctx.used.add(key);
  const v = ctx.data[key];
  return v === undefined ? undefined : v.trim();
}

/** Values shown in problems, with anything secret removed (a PIN inside a pkcs11 URI, tokens). */
export function displayValue(key: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (key === 'signers.kms.auth.token') return '[redacted]';
  if (key === 'storage.docdb.mongo-server-url' || key === 'storage.docdb.url') return redactUrlPassword(value);
  return value.replace(/(pin-value=)[^&;?]*/gi, '$1[redacted]');
}

function problem(ctx: Ctx, key: string, message: string): void {
  ctx.problems.push({ key, value: displayValue(key, ctx.data[key]), message });
}

function bool(ctx: Ctx, key: string, dflt: boolean): boolean {
  const v = raw(ctx, key);
  if (v === undefined || v === '') return dflt;
  if (trueWords.has(v)) return true;
  if (falseWords.has(v)) return false;
  problem(ctx, key, `must be a boolean ("true" or "false")`);
  return dflt;
}

function oneOf<T extends string>(ctx: Ctx, key: string, allowed: readonly T[], dflt: T): T {
  const v = raw(ctx, key);
  if (v === undefined || v === '') return dflt;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  problem(ctx, key, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  return dflt;
}

function url(ctx: Ctx, key: string, dflt: string): string {
  const v = raw(ctx, key);
  if (v === undefined || v === '') return dflt;
  try {
    const u = new URL(v);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
    return v.replace(/\/+$/, '');
  } catch {
    problem(ctx, key, 'must be an http(s) URL');
    return dflt;
  }
}

function optionalUrl(ctx: Ctx, key: string): string | undefined {
  const v = url(ctx, key, '');
  return v === '' ? undefined : v;
}

function str(ctx: Ctx, key: string, dflt: string): string {
  const v = raw(ctx, key);
  return v === undefined || v === '' ? dflt : v;
}

function optional(ctx: Ctx, key: string): string | undefined {
  const v = raw(ctx, key);
  return v === undefined || v === '' ? undefined : v;
}

function storageList(ctx: Ctx, key: string, dflt: readonly StorageName[], exclude: readonly StorageName[] = []): readonly StorageName[] {
  const v = raw(ctx, key);
  if (v === undefined) return dflt;
  const out: StorageName[] = [];
  for (const item of v.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (!(storageNames as readonly string[]).includes(item) || exclude.includes(item as StorageName)) {
      problem(ctx, key, `unknown storage backend "${item}"; allowed: ${storageNames.filter((s) => !exclude.includes(s)).join(', ')}`);
    } else if (!(implementedStorageNames as readonly string[]).includes(item)) {
      problem(ctx, key, `storage backend "${item}" exists in Tekton Chains but provenant does not implement it; use ${implementedStorageNames.join(', ')}`);
    } else if (!out.includes(item as StorageName)) {
      out.push(item as StorageName);
    }
  }
  return out;
}

function transparencyMode(ctx: Ctx): TransparencyMode {
  const key = 'transparency.enabled';
  const v = raw(ctx, key);
  if (v === undefined || v === '') return 'false';
  if (v === 'manual') return 'manual';
  if (trueWords.has(v)) return 'true';
  if (falseWords.has(v)) return 'false';
  problem(ctx, key, 'must be "true", "false" or "manual"');
  return 'false';
}

function transparency(ctx: Ctx): Config['transparency'] {
  const entryType = oneOf<TransparencyEntryType>(ctx, 'transparency.entry-type', transparencyEntryTypes, 'dsse');
  const version = oneOf<TransparencyVersion>(ctx, 'transparency.version', transparencyVersions, 'v1');
  // rekor-tiles accepts only dsse and hashedrekord entries.
  if (version === 'v2' && entryType === 'intoto') problem(ctx, 'transparency.entry-type', 'Rekor v2 has no intoto entries: use "dsse" with transparency.version v2');
  return { mode: transparencyMode(ctx), url: url(ctx, 'transparency.url', 'https://rekor.sigstore.dev'), entryType, version };
}

const kmsSchemes = { supported: ['awskms://', 'gcpkms://', 'azurekms://', 'hashivault://', 'pkcs11:'], unsupported: [] as string[] } as const;
// sigstore/sigstore kms/azure: azurekms://<vault host>/<key>[/<version>]
const azureRefPattern = /^azurekms:\/\/[^/]+\/[^/]+(?:\/[a-z0-9]*)?$/;

// sigstore/sigstore kms/hashivault: the key name only (no slashes), the transit mount comes from the environment.
const hashivaultRefPattern = /^hashivault:\/\/\w(?:[\w.-]*\w)?$/;

function kmsref(ctx: Ctx, needed: boolean): string | undefined {
  const key = 'signers.kms.kmsref';
  const v = optional(ctx, key);
  if (v === undefined) {
    if (needed) problem(ctx, key, 'is required when an artifact signer is "kms"');
    return undefined;
  }
  if (v.startsWith('hashivault://') && !hashivaultRefPattern.test(v)) {
    problem(ctx, key, 'must be hashivault://<transit key name> (letters, digits, "_", "-", ".")');
    return undefined;
  }
  if (v.startsWith('azurekms://') && !azureRefPattern.test(v)) {
    problem(ctx, key, 'must be azurekms://<vault>.vault.azure.net/<key>[/<version>]');
    return undefined;
  }
  if (kmsSchemes.supported.some((s) => v.startsWith(s))) return v;
  if (kmsSchemes.unsupported.some((s) => v.startsWith(s))) {
    problem(ctx, key, `KMS scheme "${v.split(':')[0]}" exists in Tekton Chains but provenant does not implement it; use awskms://, gcpkms://, azurekms://, hashivault:// or pkcs11:`);
  } else {
    problem(ctx, key, 'must start with awskms://, gcpkms://, azurekms://, hashivault:// or pkcs11:');
  }
  return undefined;
}

/** A key a configured backend needs: missing is a problem at load, not on every run. */
function required(ctx: Ctx, key: string, needed: boolean, backend: string): string | undefined {
  const v = optional(ctx, key);
  if (v === undefined && needed) problem(ctx, key, `is required when the "${backend}" storage backend is configured`);
  return v;
}

function requiredUrl(ctx: Ctx, key: string, needed: boolean, backend: string): string | undefined {
  const v = optionalUrl(ctx, key);
  if (v === undefined && needed && ctx.data[key] === undefined) problem(ctx, key, `is required when the "${backend}" storage backend is configured`);
  return v;
}

/** `storage.docdb.*`: the collection URL is checked when set (mongo://, dynamodb://, firestore://; see docdb-url.ts). */
function docdb(ctx: Ctx, needed: boolean): Config['storage']['docdb'] {
  const url = required(ctx, 'storage.docdb.url', needed, 'docdb');
  if (url !== undefined) {
    const parsed = parseDocdbUrl(url);
    if (!parsed.ok) problem(ctx, 'storage.docdb.url', parsed.problem);
  }
  const mongoServerUrl = optional(ctx, 'storage.docdb.mongo-server-url');
  if (mongoServerUrl !== undefined && !/^mongodb(\+srv)?:\/\//.test(mongoServerUrl)) {
    problem(ctx, 'storage.docdb.mongo-server-url', 'must be a MongoDB connection string (mongodb://… or mongodb+srv://…)');
  }
  return {
    url,
    mongoServerUrl,
    mongoServerUrlDir: optional(ctx, 'storage.docdb.mongo-server-url-dir'),
    mongoServerUrlPath: optional(ctx, 'storage.docdb.mongo-server-url-path'),
  };
}

/** Chains' default `hint.human_readable_name` of the ATTESTATION note. */
export const defaultGrafeasNoteHint = 'This attestation note was generated by Tekton Chains';

function grafeas(ctx: Ctx, needed: boolean): GrafeasConfig {
  // A project or note id becomes one segment of `projects/<p>/notes/<n>`: no slash, no space.
  const segment = (key: string, v: string | undefined, what: string): string | undefined => {
    if (v !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(v)) {
      problem(ctx, key, `must be a ${what} (letters, digits, ".", "_", ":", "-"; no spaces or "/")`);
      return undefined;
    }
    return v;
  };
  const projectId = segment('storage.grafeas.projectid', required(ctx, 'storage.grafeas.projectid', needed, 'grafeas'), 'project id');
  const noteId = segment('storage.grafeas.noteid', optional(ctx, 'storage.grafeas.noteid'), 'note id prefix');
  const server = str(ctx, 'storage.grafeas.server', 'https://containeranalysis.googleapis.com');
  if (!/^(https?):\/\/[^/\s:]+(:\d{1,5})?\/?$/.test(server)) problem(ctx, 'storage.grafeas.server', 'must be https://host[:port] or http://host:port (a gRPC endpoint, no path)');
  return { projectId, noteId, noteHint: str(ctx, 'storage.grafeas.notehint', defaultGrafeasNoteHint), server };
}

function fulcioProvider(ctx: Ctx): FulcioProviderName | undefined {
  const v = optional(ctx, 'signers.x509.fulcio.provider');
  if (v === undefined) return undefined;
  // Chains' own name for the token-file provider.
  if (v === 'filesystem-custom-path') return 'filesystem';
  if ((fulcioProviderNames as readonly string[]).includes(v)) return v as FulcioProviderName;
  problem(ctx, 'signers.x509.fulcio.provider', `must be one of ${fulcioProviderNames.map((n) => `"${n}"`).join(', ')}`);
  return undefined;
}

function kmsAuth(ctx: Ctx): KmsAuthConfig {
  const address = optionalUrl(ctx, 'signers.kms.auth.address');
  const oidcPath = optional(ctx, 'signers.kms.auth.oidc.path');
  const oidcRole = optional(ctx, 'signers.kms.auth.oidc.role');
  const sock = optional(ctx, 'signers.kms.auth.spire.sock');
  const audience = optional(ctx, 'signers.kms.auth.spire.audience');
  if (oidcPath !== undefined && oidcRole === undefined) {
    problem(ctx, 'signers.kms.auth.oidc.role', 'is required with signers.kms.auth.oidc.path (Vault login needs a role)');
  }
  if (sock !== undefined && !/^(unix:\/\/\/|unix:\/|\/)/.test(sock)) {
    problem(ctx, 'signers.kms.auth.spire.sock', 'must be unix:///<path to the SPIRE agent socket>');
  }
  if (sock !== undefined && audience === undefined) {
    problem(ctx, 'signers.kms.auth.spire.audience', 'is required with signers.kms.auth.spire.sock (the JWT-SVID audience Vault expects)');
  }
  return {
    address,
    token: optional(ctx, 'signers.kms.auth.token'),
    tokenPath: optional(ctx, 'signers.kms.auth.token-path'),
    oidc: { path: oidcPath, role: oidcRole, tokenPath: str(ctx, 'signers.kms.auth.oidc.token-path', defaultServiceAccountTokenPath) },
    spire: { sock, audience },
  };
}

/** Keys of Tekton Chains' chains-config that provenant accepts but does not act on. */
const chainsKeysNotActedOn = [
  'storage.kafka.bootstrap.servers',
  'storage.kafka.topic',
] as const;

export const defaultLocalStoragePath = '/var/lib/provenant/attestations';

/** Parses `chains-config` data. Throws `CONFIG_INVALID` (kind `config`) listing every problem. */
export function parseConfig(data: Data): ParsedConfig {
  checkConfigMapLimits(data);
  const ctx: Ctx = { data, problems: [], used: new Set() };

  const tr = {
    format: oneOf<FormatName>(ctx, 'artifacts.taskrun.format', formatNames, 'in-toto'),
    storage: storageList(ctx, 'artifacts.taskrun.storage', ['tekton']),
    signer: oneOf<SignerName>(ctx, 'artifacts.taskrun.signer', signerNames, 'x509'),
  };
  const pr = {
    format: oneOf<FormatName>(ctx, 'artifacts.pipelinerun.format', formatNames, 'in-toto'),
    storage: storageList(ctx, 'artifacts.pipelinerun.storage', ['tekton'], ['kafka']),
    signer: oneOf<SignerName>(ctx, 'artifacts.pipelinerun.signer', signerNames, 'x509'),
    enableDeepInspection: bool(ctx, 'artifacts.pipelinerun.enable-deep-inspection', false),
  };
  const oci = {
    format: oneOf(ctx, 'artifacts.oci.format', ['simplesigning'] as const, 'simplesigning'),
    storage: storageList(ctx, 'artifacts.oci.storage', ['oci']),
    signer: oneOf<SignerName>(ctx, 'artifacts.oci.signer', signerNames, 'x509'),
    signIndexManifests: bool(ctx, 'artifacts.oci.sign-index-manifests', false),
  };
  const kmsNeeded = [tr.signer, pr.signer, oci.signer].includes('kms');
  const usesStorage = (name: StorageName): boolean => [tr.storage, pr.storage, oci.storage].some((list) => list.includes(name));

  const config: Config = {
    artifacts: { taskrun: tr, pipelinerun: pr, oci },
    storage: {
      oci: {
        repository: optional(ctx, 'storage.oci.repository'),
        insecure: bool(ctx, 'storage.oci.repository.insecure', false),
        encoding: oneOf<OciEncoding>(ctx, 'storage.oci.encoding-format', ociEncodingNames, 'dsse'),
      },
      local: { path: str(ctx, 'storage.local.path', defaultLocalStoragePath) },
      gcs: { bucket: required(ctx, 'storage.gcs.bucket', usesStorage('gcs'), 'gcs') },
      archivista: { url: requiredUrl(ctx, 'storage.archivista.url', usesStorage('archivista'), 'archivista') },
      docdb: docdb(ctx, usesStorage('docdb')),
      grafeas: grafeas(ctx, usesStorage('grafeas')),
    },
    signers: {
      kms: { kmsref: kmsref(ctx, kmsNeeded), auth: kmsAuth(ctx) },
      x509: {
        fulcio: {
          enabled: bool(ctx, 'signers.x509.fulcio.enabled', false),
          address: url(ctx, 'signers.x509.fulcio.address', 'https://fulcio.sigstore.dev'),
          issuer: url(ctx, 'signers.x509.fulcio.issuer', 'https://oauth2.sigstore.dev/auth'),
          provider: fulcioProvider(ctx),
        },
        tsa: { url: optionalUrl(ctx, 'signers.x509.tsa.url') },
        identityTokenFile: str(ctx, 'signers.x509.identity.token.file', defaultIdentityTokenFile),
        tufMirrorUrl: url(ctx, 'signers.x509.tuf.mirror.url', 'https://sigstore-tuf-root.storage.googleapis.com'),
      },
      secretPath: str(ctx, 'signers.secret.path', defaultSecretPath),
    },
    transparency: transparency(ctx),
    builder: { id: str(ctx, 'builder.id', 'https://tekton.dev/chains/v2') },
    buildDefinition: { buildType: oneOf<BuildType>(ctx, 'builddefinition.buildtype', buildTypes, 'https://tekton.dev/chains/v2/slsa') },
    filter: {
      managedBy: (optional(ctx, 'filter.managed-by') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    },
  };

  ctx.problems.push(...keylessVerifiabilityProblems(config));

  const warnings: ConfigProblem[] = [];
  for (const key of chainsKeysNotActedOn) {
    if (!ctx.used.has(key) && data[key] !== undefined && data[key] !== '') {
      warnings.push({ key, value: undefined, message: 'Tekton Chains key that provenant accepts but does not act on' });
    }
    ctx.used.add(key);
  }
  for (const key of Object.keys(data).sort()) {
    if (!ctx.used.has(key)) warnings.push({ key, value: displayValue(key, data[key]), message: 'unknown key (ignored)' });
  }

  if (ctx.problems.length > 0) {
    const list = ctx.problems.map((p) => `  ${p.key}=${JSON.stringify(p.value ?? '')}: ${p.message}`).join('\n');
    throw new ProvenantError('config', 'CONFIG_INVALID', `chains-config has ${ctx.problems.length} invalid key(s):\n${list}`, {
      context: { problems: ctx.problems, hint: 'fix these keys in the chains-config ConfigMap; the last good configuration stays in use' },
    });
  }
  return { config, warnings };
}

/** The configuration with every key at its default (the embedded default starts from this). */
export function defaultConfig(): Config {
  return parseConfig({}).config;
}

/**
 * Turns a parsed JSON/YAML document into ConfigMap data: either a ConfigMap manifest
 * (`kind: ConfigMap`, uses `.data`) or a plain map of keys. Scalars are stringified the way
 * a ConfigMap would hold them; anything else is an input error.
 */
export function configDataFromDocument(doc: unknown, source = 'config'): Record<string, string> {
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ProvenantError('input', 'CONFIG_NOT_A_MAP', `${source} must be a map of chains-config keys or a ConfigMap manifest`);
  }
  const obj = doc as Record<string, unknown>;
  const map = obj['kind'] === 'ConfigMap' ? (obj['data'] ?? {}) : obj;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new ProvenantError('input', 'CONFIG_NOT_A_MAP', `${source}: ConfigMap .data must be a map`);
  }
  const out: Record<string, string> = {};
  const bad: string[] = [];
  for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'boolean' || typeof v === 'number') out[k] = String(v);
    else bad.push(k);
  }
  if (bad.length > 0) {
    throw new ProvenantError('input', 'CONFIG_NOT_A_MAP', `${source}: values must be strings (keys: ${bad.join(', ')})`);
  }
  return out;
}
