/**
 * Registry credentials from Docker config JSON (`~/.docker/config.json`, a `kubernetes.io/dockerconfigjson`
 * imagePullSecret, or a legacy `.dockercfg`). The values never leave this module except as an
 * `Authorization` header to the registry they were configured for: `toJSON` and `inspect` show host names only.
 */
import { inspect } from 'node:util';
import { ProvenantError } from '../../errors.js';
import { isDockerHub } from './reference.js';

export interface RegistryCredential {
  readonly username?: string;
  readonly password?: string;
  /** `identitytoken`: an OAuth2 refresh token exchanged at the token realm (ACR, some others). */
  readonly identityToken?: string;
  /** `registrytoken`: a bearer token sent as is. */
  readonly registryToken?: string;
}

export interface DockerCredentials {
  /** Canonical host names that have credentials (safe to log). */
  readonly registries: readonly string[];
  /** The credential for a registry host (`host[:port]`), matched exactly after canonicalisation. */
  get(registry: string): RegistryCredential | undefined;
}

/** `https://index.docker.io/v1/` → `docker.io`; `127.0.0.1:5000/foo` → `127.0.0.1:5000`. */
export function canonicalRegistryHost(value: string): string {
  const host = value.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? '';
  return isDockerHub(host.toLowerCase()) ? 'docker.io' : host.toLowerCase();
}

function credentialsOf(entries: Map<string, RegistryCredential>): DockerCredentials {
  const registries = [...entries.keys()];
  const view: DockerCredentials & { toJSON(): unknown; [inspect.custom](): string } = {
    registries,
    get: (registry) => entries.get(canonicalRegistryHost(registry)),
    toJSON: () => ({ registries }),
    [inspect.custom]: () => `DockerCredentials(${registries.join(', ')})`,
  };
  return view;
}

function invalid(source: string, why: string): ProvenantError {
  return new ProvenantError('config', 'OCI_CREDENTIALS_INVALID', `docker config ${source} is invalid: ${why}`, {
    context: { source },
  });
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * Parses Docker config JSON (string, bytes or parsed object). `{auths:{host:{auth|username/password|identitytoken}}}`
 * or the legacy top-level host map. Throws `config` `OCI_CREDENTIALS_INVALID` (never echoing values).
 */
export function credentialsFromDockerConfig(json: unknown, source = 'docker-config'): DockerCredentials {
  let doc: unknown = json;
  if (json instanceof Uint8Array) doc = Buffer.from(json).toString('utf8');
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch {
      throw invalid(source, 'not JSON');
    }
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalid(source, 'not a JSON object');
  const root = doc as Record<string, unknown>;
  const auths = 'auths' in root ? root['auths'] : root;
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) throw invalid(source, '`auths` is not an object');
  const entries = new Map<string, RegistryCredential>();
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    if (value === null || typeof value !== 'object') {
      if ('auths' in root) throw invalid(source, `entry ${key} is not an object`);
      continue; // legacy format: ignore non-entry keys such as credsStore
    }
    const entry = value as Record<string, unknown>;
    let username = str(entry['username']);
    let password = str(entry['password']);
    const auth = str(entry['auth']);
    if (auth !== undefined) {
      const decoded = Buffer.from(auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw invalid(source, `entry ${key}: auth is not base64 of user:password`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    const identityToken = str(entry['identitytoken']);
    const registryToken = str(entry['registrytoken']);
    const cred: RegistryCredential = {
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(identityToken !== undefined ? { identityToken } : {}),
      ...(registryToken !== undefined ? { registryToken } : {}),
    };
    if (Object.keys(cred).length === 0) continue;
    const host = canonicalRegistryHost(key);
    if (!entries.has(host)) entries.set(host, cred);
  }
  return credentialsOf(entries);
}

/** Combines sources; for a host present in several, the first source wins (like kubelet's pull-secret order). */
export function mergeDockerCredentials(...sources: readonly DockerCredentials[]): DockerCredentials {
  const entries = new Map<string, RegistryCredential>();
  for (const source of sources) {
    for (const host of source.registries) {
      const cred = source.get(host);
      if (cred !== undefined && !entries.has(host)) entries.set(host, cred);
    }
  }
  return credentialsOf(entries);
}

export const noCredentials: DockerCredentials = credentialsOf(new Map());
