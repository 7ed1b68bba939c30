/**
 * Image references as Tekton Chains and cosign spell them: `registry/path[:tag][@sha256:hex]`.
 * A name without a registry host is a Docker Hub name (`abc` → `index.docker.io/library/abc`).
 */
import { ProvenantError } from '../../errors.js';

export interface RepositoryRef {
  /** `host[:port]` as written (`index.docker.io` for Docker Hub names). */
  readonly registry: string;
  /** Repository path inside the registry (`library/abc`). */
  readonly repository: string;
}

export interface ImageDigestRef extends RepositoryRef {
  /** `sha256:<hex>` */
  readonly digest: string;
}

const DOCKER_HUB = 'index.docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Parses `registry/repo[:tag]` (tag and digest are dropped); undefined when it is not an image name. */
export function parseRepository(name: string): RepositoryRef | undefined {
  if (name.length === 0 || name.length > 255 + 256 || /^[a-z][a-z0-9+.-]*:\/\//i.test(name) || name.includes(' ')) return undefined;
  let rest = name;
  const at = rest.indexOf('@');
  if (at >= 0) rest = rest.slice(0, at);
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    parts.shift();
  }
  if (!HOST.test(registry)) return undefined;
  const last = parts[parts.length - 1] ?? '';
  const colon = last.indexOf(':');
  if (colon >= 0) {
    const tag = last.slice(colon + 1);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) return undefined;
    parts[parts.length - 1] = last.slice(0, colon);
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) return undefined;
  if (isDockerHub(registry) && parts.length === 1) parts.unshift('library');
  return { registry: isDockerHub(registry) ? DOCKER_HUB : registry, repository: parts.join('/') };
}

/** Parses `registry/repo@sha256:<hex>`; throws `input` `OCI_REFERENCE_INVALID` otherwise. */
export function parseImageDigestRef(ref: string): ImageDigestRef {
  const at = ref.lastIndexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : '';
  const repo = at >= 0 ? parseRepository(ref.slice(0, at)) : undefined;
  if (repo === undefined || !SHA256_DIGEST.test(digest)) {
    throw new ProvenantError('input', 'OCI_REFERENCE_INVALID', `not an image reference with a sha256 digest: ${ref}`, {
      context: { hint: 'use <registry>/<repository>@sha256:<hex>' },
    });
  }
  return { ...repo, digest };
}

export function isSha256Digest(digest: string): boolean {
  return SHA256_DIGEST.test(digest);
}

export function isDockerHub(registry: string): boolean {
  return registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io';
}

/** The host the Distribution API is served on (Docker Hub's API host differs from its name). */
export function apiHost(registry: string): string {
  return isDockerHub(registry) ? 'registry-1.docker.io' : registry;
}

/** cosign's tag for an image digest: `sha256-<hex>` plus `.att` / `.sig`; also the referrers tag schema. */
export function digestTag(digest: string, suffix: '' | 'att' | 'sig' = ''): string {
  const tag = digest.replace(':', '-');
  return suffix === '' ? tag : `${tag}.${suffix}`;
}

export function formatRepository(ref: RepositoryRef): string {
  return `${ref.registry}/${ref.repository}`;
}
