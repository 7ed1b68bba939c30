/**
 * Docker reference parsing with go-containerregistry's `name.NewDigest` semantics (non-strict),
 * which Tekton Chains uses for `*IMAGE_URL`/`*IMAGE_DIGEST` and `IMAGES`:
 * - `<ref>@sha256:<64 hex>`; other digest algorithms are rejected;
 * - an optional `:tag` before `@` is validated and dropped from the repository name;
 * - the first path component is a registry only if it contains `.` or `:`; otherwise the
 *   registry is Docker Hub (`index.docker.io`, also for `docker.io`), where a single-component
 *   repository gets `library/`.
 */
export const defaultRegistry = 'index.docker.io';

export type ImageReference = { readonly ok: true; readonly repository: string; readonly digest: string } | { readonly ok: false; readonly reason: string };

const repositoryChars = /^[a-z0-9_\-./]+$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;

/** `name.NewRepository(name).Name()`; undefined with a reason when invalid. */
export function normaliseRepository(name: string): { ok: true; repository: string } | { ok: false; reason: string } {
  if (name.length === 0) return { ok: false, reason: 'empty repository' };
  let registry = '';
  let repo = name;
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (first.includes('.') || first.includes(':')) {
      registry = first;
      repo = name.slice(slash + 1);
    }
  }
  if (repo.length < 2 || repo.length > 255 || !repositoryChars.test(repo)) {
    return { ok: false, reason: `repository ${JSON.stringify(repo)} must be 2-255 characters of [a-z0-9_-./]` };
  }
  if (registry !== '' && !/^[A-Za-z0-9.\-:[\]]+$/.test(registry)) return { ok: false, reason: `invalid registry ${JSON.stringify(registry)}` };
  if (registry === '' || registry === 'docker.io') registry = defaultRegistry;
  if (registry === defaultRegistry && !repo.includes('/')) repo = `library/${repo}`;
  return { ok: true, repository: `${registry}/${repo}` };
}

/** `name.NewDigest(ref)`: returns the normalised repository (`Repository.Name()`) and the digest. */
export function parseImageDigestReference(ref: string): ImageReference {
  const parts = ref.split('@');
  if (parts.length !== 2) return { ok: false, reason: 'a digest reference must have exactly one "@"' };
  const [base = '', digest = ''] = parts;
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) return { ok: false, reason: 'image digest must be sha256:<64 lower-case hex>' };
  let repoPart = base;
  const colonParts = base.split(':');
  const last = colonParts[colonParts.length - 1] ?? '';
  if (colonParts.length > 1 && !last.includes('/')) {
    repoPart = colonParts.slice(0, -1).join(':');
    if (!tagPattern.test(last)) return { ok: false, reason: `invalid tag ${JSON.stringify(last)}` };
  }
  const repo = normaliseRepository(repoPart);
  if (!repo.ok) return repo;
  return { ok: true, repository: repo.repository, digest };
}
