/**
 * A small, honest Kubernetes API server on loopback: enough of the real HTTP protocol that
 * `@kubernetes/client-node` and `kubectl` run against it unmodified. Used by integration tests,
 * the e2e suite and `provenant demo`.
 *
 * What it does the way the real server does: discovery, list with `limit`/`continue` and a list
 * `resourceVersion`, `?watch=1` streams (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR, one JSON per line),
 * resume from a resourceVersion, 410 Gone after compaction, optimistic concurrency (409), merge and
 * JSON patches (strategic merge rejected with 415 for custom resources), finalizers on DELETE,
 * `dryRun=All`, server-side apply (approximated as create-or-merge).
 * Security as a cluster has it: HTTPS only, with a CA generated per server (`caPem`, in the
 * kubeconfig as `certificate-authority-data`); bearer-token authentication (a request without a
 * valid token answers 401, as with `--anonymous-auth=false`): an admin token in `system:masters`
 * (the kubeconfig's user, for test setup) and ServiceAccount tokens the server issues
 * (`issueServiceAccountToken`, ES256 JWTs, invalid once the ServiceAccount is deleted); RBAC
 * enforced from the ClusterRoles, Roles and bindings applied to it, with the bootstrap roles
 * (cluster-admin, system:discovery, system:public-info-viewer) present from the start, so any call
 * the applied roles do not grant answers 403 (see fake-kube-rbac.ts). Helper methods (`create`,
 * `get`, ...) act directly on the store, like etcd, with no authorization.
 * What it does not do: admission, defaulting, conversion between tekton.dev versions (the same
 * stored object is served under every served version with its `apiVersion` rewritten), field
 * managers, tables, RBAC escalation checks, aggregated ClusterRoles, impersonation.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  adminUser,
  bootstrapRbac,
  forbiddenMessage,
  rbacAllows,
  requestAttributes,
  serviceAccountUser,
  type RbacObject,
  type UserInfo,
} from './fake-kube-rbac.js';
import { createKubePki, createTokenIssuer } from './kube-pki.js';

export type TektonVersion = 'v1' | 'v1beta1';

export interface FakeKubeServerOptions {
  /** tekton.dev versions the server serves; default both. `['v1beta1']` exercises the fallback. */
  readonly tektonVersions?: readonly TektonVersion[];
  /** Port on 127.0.0.1; default a free one. */
  readonly port?: number;
  /** BOOKMARK interval for watches that asked for them; default 1000 ms. 0 disables the timer. */
  readonly bookmarkIntervalMs?: number;
  /** Events kept for watch resume; older resourceVersions answer 410. Default 10 000. */
  readonly historyLimit?: number;
}

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType?: string;
  readonly status: number;
  /** Authenticated user name (`system:serviceaccount:<ns>:<name>` for a ServiceAccount); absent on 401. */
  readonly user?: string;
}

export interface FaultSpec {
  readonly method?: string;
  /** Substring of the request path (without query). */
  readonly pathIncludes?: string;
  /** Only list/watch (`true`) or only non-watch (`false`) requests; default both. */
  readonly watch?: boolean;
  readonly status: number;
  /** How many matching requests fail; default 1. */
  readonly times?: number;
}

export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown>;
};

export interface WatchEventRecord {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly resourceVersion: number;
  readonly object: KubeObject;
}

export interface FakeKubeServer {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The cluster CA (PEM) that signed the serving certificate: what a pod's `ca.crt` holds. */
  readonly caPem: string;
  /** Options for `KubeConfig.loadFromOptions`: the admin identity (`system:masters`), CA data. */
  readonly kubeconfig: KubeconfigOptions;
  /** The same kubeconfig as YAML, for `kubectl --kubeconfig` or `KUBECONFIG`. */
  readonly kubeconfigYaml: string;
  /**
   * A token for ServiceAccount `namespace/name` (which must exist), as the TokenRequest API issues
   * one: the pod's `/var/run/secrets/kubernetes.io/serviceaccount/token`.
   */
  issueServiceAccountToken(namespace: string, name: string): string;
  /** A kubeconfig (options and YAML) authenticating with `token`. */
  kubeconfigFor(token: string, namespace?: string): { readonly options: KubeconfigOptions; readonly yaml: string };
  /** Every request served, in order. */
  readonly requestLog: RequestLogEntry[];
  create(obj: KubeObject): KubeObject;
  /** Replace (like PUT, no resourceVersion check unless the object carries one). */
  update(obj: KubeObject): KubeObject;
  /** JSON merge patch. */
  patch(ref: ObjectRef, mergePatch: Record<string, unknown>): KubeObject;
  /** DELETE with finalizers honoured; returns the object still present (finalizers) or undefined. */
  delete(ref: ObjectRef): KubeObject | undefined;
  get(ref: ObjectRef): KubeObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  /** Core v1 and events.k8s.io/v1 Events created so far. */
  events(): KubeObject[];
  /** Forget history: every watch or continue token older than now answers 410 Gone. */
  compact(): void;
  /** End every open watch stream (clients see a normal close). */
  dropWatches(): void;
  /** Send a BOOKMARK now to every watch that asked for bookmarks. */
  sendBookmarks(): void;
  /** Make the next matching requests fail with `status`. */
  injectFault(fault: FaultSpec): void;
  readonly currentResourceVersion: number;
  readonly openWatches: number;
  stop(): Promise<void>;
}

export interface KubeconfigOptions {
  readonly clusters: { name: string; server: string; skipTLSVerify: boolean; caData?: string }[];
  readonly users: { name: string; token: string }[];
  readonly contexts: { name: string; cluster: string; user: string; namespace: string }[];
  readonly currentContext: string;
}

interface ResourceType {
  readonly group: string;
  readonly versions: readonly string[];
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames?: readonly string[];
  /** Custom resources reject strategic merge patches (415). */
  readonly custom: boolean;
  readonly categories?: readonly string[];
}

interface WatchClient {
  readonly res: ServerResponse;
  readonly type: ResourceType;
  readonly version: string;
  readonly namespace: string | undefined;
  readonly matches: (obj: KubeObject) => boolean;
  readonly bookmarks: boolean;
  timers: NodeJS.Timeout[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function resourceTypes(tektonVersions: readonly TektonVersion[]): ResourceType[] {
  return [
    { group: '', versions: ['v1'], plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'], custom: false },
    { group: '', versions: ['v1'], plural: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'], custom: false },
    { group: '', versions: ['v1'], plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], custom: false },
    { group: '', versions: ['v1'], plural: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true, custom: false },
    { group: '', versions: ['v1'], plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'], custom: false },
    { group: 'events.k8s.io', versions: ['v1'], plural: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'], custom: false },
    // What the install manifests hold, so `kubectl apply --server-side --dry-run=server -k manifests/` runs here.
    { group: '', versions: ['v1'], plural: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], custom: false },
    { group: '', versions: ['v1'], plural: 'persistentvolumeclaims', singular: 'persistentvolumeclaim', kind: 'PersistentVolumeClaim', namespaced: true, shortNames: ['pvc'], custom: false },
    { group: 'apps', versions: ['v1'], plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], custom: false },
    // Read by `provenant trace pod/…|deployment/…|namespace/…`.
    { group: '', versions: ['v1'], plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], custom: false },
    { group: 'apps', versions: ['v1'], plural: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', namespaced: true, shortNames: ['rs'], custom: false },
    { group: 'rbac.authorization.k8s.io', versions: ['v1'], plural: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', namespaced: false, custom: false },
    { group: 'rbac.authorization.k8s.io', versions: ['v1'], plural: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false, custom: false },
    { group: 'rbac.authorization.k8s.io', versions: ['v1'], plural: 'roles', singular: 'role', kind: 'Role', namespaced: true, custom: false },
    { group: 'rbac.authorization.k8s.io', versions: ['v1'], plural: 'rolebindings', singular: 'rolebinding', kind: 'RoleBinding', namespaced: true, custom: false },
    { group: 'tekton.dev', versions: tektonVersions, plural: 'taskruns', singular: 'taskrun', kind: 'TaskRun', namespaced: true, shortNames: ['tr', 'trs'], custom: true, categories: ['tekton', 'tekton-pipelines'] },
    { group: 'tekton.dev', versions: tektonVersions, plural: 'pipelineruns', singular: 'pipelinerun', kind: 'PipelineRun', namespaced: true, shortNames: ['pr', 'prs'], custom: true, categories: ['tekton', 'tekton-pipelines'] },
  ];
}

function storeKey(t: ResourceType): string {
  return `${t.group}/${t.plural}`;
}

function objKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function meta(obj: KubeObject): Record<string, unknown> {
  if (!isPlainObject(obj.metadata)) obj.metadata = {};
  return obj.metadata as Record<string, unknown>;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new HttpError(422, 'Invalid', `bad JSON pointer ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test). */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new HttpError(400, 'BadRequest', 'JSON patch must be an array');
  let root: unknown = clone(doc);
  const resolve = (path: string[]): { parent: unknown; last: string } => {
    let cur: unknown = root;
    for (const seg of path.slice(0, -1)) {
      if (Array.isArray(cur)) cur = cur[Number(seg)];
      else if (isPlainObject(cur)) cur = cur[seg];
      else cur = undefined;
      if (cur === undefined) throw new HttpError(422, 'Invalid', 'path not found');
    }
    return { parent: cur, last: path[path.length - 1] ?? '' };
  };
  const getAt = (path: string[]): unknown => {
    let cur: unknown = root;
    for (const seg of path) {
      if (Array.isArray(cur)) cur = cur[Number(seg)];
      else if (isPlainObject(cur)) cur = cur[seg];
      else return undefined;
    }
    return cur;
  };
  const remove = (path: string[]): unknown => {
    const { parent, last } = resolve(path);
    if (Array.isArray(parent)) {
      const i = Number(last);
      if (!(i >= 0 && i < parent.length)) throw new HttpError(422, 'Invalid', 'index out of range');
      return parent.splice(i, 1)[0];
    }
    if (isPlainObject(parent) && last in parent) {
      const v = parent[last];
      delete parent[last];
      return v;
    }
    throw new HttpError(422, 'Invalid', 'path not found');
  };
  const add = (path: string[], value: unknown): void => {
    if (path.length === 0) {
      root = clone(value);
      return;
    }
    const { parent, last } = resolve(path);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!(i >= 0 && i <= parent.length)) throw new HttpError(422, 'Invalid', 'index out of range');
      parent.splice(i, 0, clone(value));
    } else if (isPlainObject(parent)) parent[last] = clone(value);
    else throw new HttpError(422, 'Invalid', 'path not found');
  };
  for (const raw of ops) {
    if (!isPlainObject(raw)) throw new HttpError(400, 'BadRequest', 'bad JSON patch operation');
    const path = parsePointer(String(raw['path'] ?? ''));
    switch (raw['op']) {
      case 'add':
        add(path, raw['value']);
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        if (path.length > 0) remove(path);
        add(path, raw['value']);
        break;
      case 'move': {
        const v = remove(parsePointer(String(raw['from'] ?? '')));
        add(path, v);
        break;
      }
      case 'copy':
        add(path, getAt(parsePointer(String(raw['from'] ?? ''))));
        break;
      case 'test':
        if (JSON.stringify(getAt(path)) !== JSON.stringify(raw['value'])) {
          throw new HttpError(422, 'Invalid', 'JSON patch test operation failed');
        }
        break;
      default:
        throw new HttpError(400, 'BadRequest', 'unknown JSON patch operation');
    }
  }
  return root;
}

type SelectorTerm = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value?: string };

function parseSelector(sel: string | undefined): SelectorTerm[] {
  if (sel === undefined || sel.trim() === '') return [];
  return sel.split(',').map((part) => {
    const p = part.trim();
    const ne = p.indexOf('!=');
    if (ne > 0) return { key: p.slice(0, ne).trim(), op: '!=' as const, value: p.slice(ne + 2).trim() };
    const eq = p.indexOf('=');
    if (eq > 0) return { key: p.slice(0, eq).trim(), op: '=' as const, value: p.slice(eq + 1).replace(/^=/, '').trim() };
    if (p.startsWith('!')) return { key: p.slice(1).trim(), op: '!exists' as const };
    return { key: p, op: 'exists' as const };
  });
}

function matchTerms(terms: SelectorTerm[], lookup: (key: string) => string | undefined): boolean {
  return terms.every((t) => {
    const v = lookup(t.key);
    switch (t.op) {
      case '=':
        return v === t.value;
      case '!=':
        return v !== t.value;
      case 'exists':
        return v !== undefined;
      case '!exists':
        return v === undefined;
    }
    return false;
  });
}

function makeMatcher(labelSelector: string | undefined, fieldSelector: string | undefined): (obj: KubeObject) => boolean {
  const labels = parseSelector(labelSelector);
  const fields = parseSelector(fieldSelector);
  return (obj) => {
    const m = meta(obj);
    const objLabels = isPlainObject(m['labels']) ? (m['labels'] as Record<string, unknown>) : {};
    if (!matchTerms(labels, (k) => str(objLabels[k]))) return false;
    return matchTerms(fields, (k) => {
      if (k === 'metadata.name') return str(m['name']);
      if (k === 'metadata.namespace') return str(m['namespace']);
      return undefined;
    });
  };
}

function statusBody(status: number, reason: string, message: string, details: Record<string, unknown> = {}): KubeObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    details,
    code: status,
  };
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ rv, after }), 'utf8').toString('base64url');
}

function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (isPlainObject(v) && typeof v['rv'] === 'number' && typeof v['after'] === 'string') return { rv: v['rv'], after: v['after'] };
  } catch {
    // fall through
  }
  throw new HttpError(400, 'BadRequest', 'invalid continue token');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function createFakeKubeServer(options: FakeKubeServerOptions = {}): Promise<FakeKubeServer> {
  const tektonVersions = options.tektonVersions ?? ['v1', 'v1beta1'];
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
  const historyLimit = options.historyLimit ?? 10_000;
  const types = resourceTypes(tektonVersions);
  const stores = new Map<string, Map<string, KubeObject>>();
  for (const t of types) if (!stores.has(storeKey(t))) stores.set(storeKey(t), new Map());
  const history: { rv: number; store: string; type: WatchEventRecord['type']; object: KubeObject }[] = [];
  let rv = 1;
  /** Oldest resourceVersion a watch may resume from; older answers 410. */
  let compactedRv = 0;
  const watchers = new Set<WatchClient>();
  const faults: { spec: FaultSpec; left: number }[] = [];
  const requestLog: RequestLogEntry[] = [];
  const sockets = new Set<Socket>();
  const pki = createKubePki();
  const tokens = createTokenIssuer();
  const adminToken = `admin-${randomBytes(24).toString('base64url')}`;

  const typeFor = (apiVersion: string, kindOrPlural: string): ResourceType => {
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    const t = types.find(
      (x) => x.group === group && (x.kind === kindOrPlural || x.plural === kindOrPlural) && x.versions.includes(version),
    );
    if (t === undefined) throw new HttpError(404, 'NotFound', `the server could not find the requested resource`);
    return t;
  };

  const apiVersionOf = (t: ResourceType, version: string): string => (t.group === '' ? version : `${t.group}/${version}`);

  const present = (t: ResourceType, version: string, obj: KubeObject): KubeObject => {
    const out = clone(obj);
    out.apiVersion = apiVersionOf(t, version);
    out.kind = t.kind;
    return out;
  };

  const notify = (t: ResourceType, type: WatchEventRecord['type'], obj: KubeObject): void => {
    const evRv = Number(str(meta(obj)['resourceVersion']) ?? rv);
    history.push({ rv: evRv, store: storeKey(t), type, object: clone(obj) });
    if (history.length > historyLimit) {
      const dropped = history.splice(0, history.length - historyLimit);
      const last = dropped[dropped.length - 1];
      if (last !== undefined) compactedRv = Math.max(compactedRv, last.rv);
    }
    for (const w of watchers) {
      if (storeKey(w.type) !== storeKey(t)) continue;
      if (w.namespace !== undefined && meta(obj)['namespace'] !== w.namespace) continue;
      if (!w.matches(obj)) continue;
      w.res.write(JSON.stringify({ type, object: present(w.type, w.version, obj) }) + '\n');
    }
  };

  const nextRv = (): string => String(++rv);

  const finalizersOf = (obj: KubeObject): unknown[] => {
    const f = meta(obj)['finalizers'];
    return Array.isArray(f) ? f : [];
  };

  /** Stores `next` in place of `prev` (or deletes it when finalizers are gone after a delete). */
  const commit = (t: ResourceType, key: string, prev: KubeObject | undefined, next: KubeObject, dryRun: boolean): KubeObject => {
    const m = meta(next);
    if (prev !== undefined) {
      const pm = meta(prev);
      m['uid'] = pm['uid'];
      m['creationTimestamp'] = pm['creationTimestamp'];
      m['name'] = pm['name'];
      if (pm['namespace'] !== undefined) m['namespace'] = pm['namespace'];
      if (pm['deletionTimestamp'] !== undefined) m['deletionTimestamp'] = pm['deletionTimestamp'];
    }
    if (dryRun) {
      m['resourceVersion'] = prev === undefined ? undefined : meta(prev)['resourceVersion'];
      if (m['resourceVersion'] === undefined) delete m['resourceVersion'];
      return next;
    }
    m['resourceVersion'] = nextRv();
    const store = stores.get(storeKey(t));
    if (store === undefined) throw new HttpError(500, 'InternalError', 'no store');
    if (m['deletionTimestamp'] !== undefined && finalizersOf(next).length === 0) {
      store.delete(key);
      notify(t, 'DELETED', next);
      return next;
    }
    store.set(key, next);
    notify(t, prev === undefined ? 'ADDED' : 'MODIFIED', next);
    return next;
  };

  const checkConflict = (t: ResourceType, current: KubeObject, wanted: unknown, name: string): void => {
    if (wanted === undefined || wanted === null || wanted === '') return;
    if (String(wanted) !== str(meta(current)['resourceVersion'])) {
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${t.plural}.${t.group} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, group: t.group, kind: t.plural },
      );
    }
  };

  const doCreate = (t: ResourceType, namespace: string | undefined, body: unknown, dryRun: boolean): KubeObject => {
    if (!isPlainObject(body)) throw new HttpError(400, 'BadRequest', 'body must be an object');
    const obj = clone(body) as KubeObject;
    const m = meta(obj);
    let name = str(m['name']);
    if ((name === undefined || name === '') && typeof m['generateName'] === 'string') {
      name = `${m['generateName']}${randomUUID().slice(0, 5)}`;
      m['name'] = name;
    }
    if (name === undefined || name === '') throw new HttpError(422, 'Invalid', 'metadata.name: Required value', { kind: t.kind });
    if (t.namespaced) {
      const ns = namespace ?? str(m['namespace']) ?? 'default';
      if (namespace !== undefined && m['namespace'] !== undefined && m['namespace'] !== namespace) {
        throw new HttpError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      m['namespace'] = ns;
    } else delete m['namespace'];
    const key = objKey(str(m['namespace']), name);
    const store = stores.get(storeKey(t));
    if (store?.has(key) === true) {
      throw new HttpError(409, 'AlreadyExists', `${t.plural}.${t.group} "${name}" already exists`, { name, group: t.group, kind: t.plural });
    }
    m['uid'] = randomUUID();
    m['creationTimestamp'] = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    delete m['resourceVersion'];
    delete m['deletionTimestamp'];
    return commit(t, key, undefined, obj, dryRun);
  };

  const getStored = (t: ResourceType, namespace: string | undefined, name: string): { key: string; obj: KubeObject } => {
    const key = objKey(t.namespaced ? namespace : undefined, name);
    const obj = stores.get(storeKey(t))?.get(key);
    if (obj === undefined) {
      throw new HttpError(404, 'NotFound', `${t.plural}.${t.group} "${name}" not found`, { name, group: t.group, kind: t.plural });
    }
    return { key, obj };
  };

  const doUpdate = (t: ResourceType, namespace: string | undefined, name: string, body: unknown, dryRun: boolean): KubeObject => {
    if (!isPlainObject(body)) throw new HttpError(400, 'BadRequest', 'body must be an object');
    const { key, obj } = getStored(t, namespace, name);
    const next = clone(body) as KubeObject;
    checkConflict(t, obj, meta(next)['resourceVersion'], name);
    return commit(t, key, obj, next, dryRun);
  };

  const doPatch = (
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string,
    raw: string,
    dryRun: boolean,
  ): { obj: KubeObject; created: boolean } => {
    const ct = contentType.split(';')[0]?.trim() ?? '';
    if (ct === 'application/apply-patch+yaml') {
      const applied = parseYaml(raw) as unknown;
      if (!isPlainObject(applied)) throw new HttpError(400, 'BadRequest', 'apply patch must be an object');
      const store = stores.get(storeKey(t));
      const key = objKey(t.namespaced ? namespace : undefined, name);
      const existing = store?.get(key);
      if (existing === undefined) {
        const body = clone(applied) as KubeObject;
        meta(body)['name'] = name;
        return { obj: doCreate(t, namespace, body, dryRun), created: true };
      }
      const merged = applyMergePatch(existing, applied) as KubeObject;
      checkConflict(t, existing, meta(applied as KubeObject)['resourceVersion'], name);
      return { obj: commit(t, key, existing, merged, dryRun), created: false };
    }
    const { key, obj } = getStored(t, namespace, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new HttpError(400, 'BadRequest', 'patch body is not JSON');
    }
    let next: unknown;
    if (ct === 'application/merge-patch+json') next = applyMergePatch(obj, parsed);
    else if (ct === 'application/json-patch+json') next = applyJsonPatch(obj, parsed);
    else if (ct === 'application/strategic-merge-patch+json') {
      if (t.custom) {
        throw new HttpError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
      }
      next = applyMergePatch(obj, parsed);
    } else throw new HttpError(415, 'UnsupportedMediaType', `unsupported patch type ${ct}`);
    if (!isPlainObject(next)) throw new HttpError(422, 'Invalid', 'patched object is not an object');
    const wanted = isPlainObject(parsed) && isPlainObject(parsed['metadata']) ? parsed['metadata']['resourceVersion'] : undefined;
    checkConflict(t, obj, wanted, name);
    return { obj: commit(t, key, obj, next as KubeObject, dryRun), created: false };
  };

  const doDelete = (t: ResourceType, namespace: string | undefined, name: string, dryRun: boolean): KubeObject | undefined => {
    const { key, obj } = getStored(t, namespace, name);
    if (finalizersOf(obj).length > 0) {
      if (meta(obj)['deletionTimestamp'] !== undefined) return obj;
      const next = clone(obj);
      meta(next)['deletionTimestamp'] = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      return commit(t, key, obj, next, dryRun);
    }
    if (dryRun) return undefined;
    stores.get(storeKey(t))?.delete(key);
    const gone = clone(obj);
    meta(gone)['resourceVersion'] = nextRv();
    notify(t, 'DELETED', gone);
    return undefined;
  };

  const sortedItems = (t: ResourceType, namespace: string | undefined, matches: (o: KubeObject) => boolean): [string, KubeObject][] => {
    const store = stores.get(storeKey(t)) ?? new Map<string, KubeObject>();
    return [...store.entries()]
      .filter(([, o]) => (namespace === undefined || meta(o)['namespace'] === namespace) && matches(o))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  };

  const doList = (t: ResourceType, version: string, namespace: string | undefined, q: URLSearchParams): KubeObject => {
    const matches = makeMatcher(q.get('labelSelector') ?? undefined, q.get('fieldSelector') ?? undefined);
    const limit = Number(q.get('limit') ?? '0');
    const cont = q.get('continue');
    let listRv = rv;
    let after = '';
    if (cont !== null && cont !== '') {
      const c = decodeContinue(cont);
      if (c.rv < compactedRv) {
        throw new HttpError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      listRv = c.rv;
      after = c.after;
    }
    const exact = q.get('resourceVersionMatch') === 'Exact' ? q.get('resourceVersion') : null;
    if (exact !== null && Number(exact) < compactedRv) throw new HttpError(410, 'Expired', `too old resource version: ${exact} (${compactedRv})`);
    let items = sortedItems(t, namespace, matches).filter(([k]) => k > after);
    let nextToken: string | undefined;
    let remaining: number | undefined;
    if (limit > 0 && items.length > limit) {
      remaining = items.length - limit;
      items = items.slice(0, limit);
      const last = items[items.length - 1];
      if (last !== undefined) nextToken = encodeContinue(listRv, last[0]);
    }
    const listMeta: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (nextToken !== undefined) listMeta['continue'] = nextToken;
    if (remaining !== undefined) listMeta['remainingItemCount'] = remaining;
    return {
      apiVersion: apiVersionOf(t, version),
      kind: `${t.kind}List`,
      metadata: listMeta,
      items: items.map(([, o]) => present(t, version, o)),
    };
  };

  const startWatch = (
    req: IncomingMessage,
    res: ServerResponse,
    t: ResourceType,
    version: string,
    namespace: string | undefined,
    q: URLSearchParams,
  ): void => {
    const matches = makeMatcher(q.get('labelSelector') ?? undefined, q.get('fieldSelector') ?? undefined);
    const fromRaw = q.get('resourceVersion');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const write = (ev: unknown): void => {
      res.write(JSON.stringify(ev) + '\n');
    };
    if (fromRaw !== null && fromRaw !== '' && fromRaw !== '0' && Number(fromRaw) < compactedRv) {
      write({
        type: 'ERROR',
        object: statusBody(410, 'Expired', `too old resource version: ${fromRaw} (${compactedRv})`),
      });
      res.end();
      return;
    }
    if (fromRaw === null || fromRaw === '' || fromRaw === '0') {
      for (const [, o] of sortedItems(t, namespace, matches)) write({ type: 'ADDED', object: present(t, version, o) });
    } else {
      const from = Number(fromRaw);
      for (const h of history) {
        if (h.rv <= from || h.store !== storeKey(t)) continue;
        if (namespace !== undefined && meta(h.object)['namespace'] !== namespace) continue;
        if (!matches(h.object)) continue;
        write({ type: h.type, object: present(t, version, h.object) });
      }
    }
    const client: WatchClient = {
      res,
      type: t,
      version,
      namespace,
      matches,
      bookmarks: q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1',
      timers: [],
    };
    watchers.add(client);
    if (client.bookmarks && bookmarkIntervalMs > 0) {
      const timer = setInterval(() => sendBookmark(client), bookmarkIntervalMs);
      timer.unref();
      client.timers.push(timer);
    }
    const timeout = Number(q.get('timeoutSeconds') ?? '0');
    if (timeout > 0) {
      const timer = setTimeout(() => res.end(), timeout * 1000);
      timer.unref();
      client.timers.push(timer);
    }
    const cleanup = (): void => {
      for (const timer of client.timers) clearTimeout(timer);
      watchers.delete(client);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
  };

  const sendBookmark = (w: WatchClient): void => {
    if (!w.bookmarks) return;
    w.res.write(
      JSON.stringify({
        type: 'BOOKMARK',
        object: { kind: w.type.kind, apiVersion: apiVersionOf(w.type, w.version), metadata: { resourceVersion: String(rv) } },
      }) + '\n',
    );
  };

  const discovery = (path: string): KubeObject | undefined => {
    if (path === '/version') {
      return { major: '1', minor: '31', gitVersion: 'v1.31.0-provenant-fake', platform: 'linux/amd64' };
    }
    if (path === '/api') {
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] };
    }
    const groups = [...new Set(types.filter((t) => t.group !== '').map((t) => t.group))];
    const groupDoc = (g: string): KubeObject => {
      const versions = [...new Set(types.filter((t) => t.group === g).flatMap((t) => t.versions))];
      const gv = versions.map((v) => ({ groupVersion: `${g}/${v}`, version: v }));
      return { kind: 'APIGroup', apiVersion: 'v1', name: g, versions: gv, preferredVersion: gv[0] };
    };
    if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupDoc) };
    const m = /^\/apis\/([^/]+)$/.exec(path);
    if (m?.[1] !== undefined && groups.includes(m[1])) return groupDoc(m[1]);
    const rl = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (rl !== null) {
      const group = rl[2] ?? '';
      const version = rl[1] ?? rl[3] ?? '';
      const served = types.filter((t) => t.group === group && t.versions.includes(version));
      if (served.length === 0) return undefined;
      const resources = served.flatMap((t) => {
        const base = {
          name: t.plural,
          singularName: t.singular,
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: VERBS,
          ...(t.shortNames === undefined ? {} : { shortNames: t.shortNames }),
          ...(t.categories === undefined ? {} : { categories: t.categories }),
        };
        return t.custom ? [base, { name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] }] : [base];
      });
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group === '' ? version : `${group}/${version}`, resources };
    }
    return undefined;
  };

  /**
   * A minimal OpenAPI v3 document: no schemas, only each resource's create/patch operations with
   * the `fieldValidation` parameter, which tells kubectl to leave validation to the server
   * instead of downloading schemas (so `kubectl create -f` / `apply --server-side` work).
   */
  const openapi = (path: string): KubeObject | undefined => {
    const gvs = [...new Set(types.flatMap((t) => t.versions.map((v) => (t.group === '' ? `api/${v}` : `apis/${t.group}/${v}`))))];
    if (path === '/openapi/v3') {
      return { paths: Object.fromEntries(gvs.map((gv) => [gv, { serverRelativeURL: `/openapi/v3/${gv}?hash=${rv}` }])) };
    }
    const gv = path.startsWith('/openapi/v3/') ? path.slice('/openapi/v3/'.length) : undefined;
    if (gv === undefined || !gvs.includes(gv)) return undefined;
    const paths: Record<string, unknown> = {};
    const param = (name: string): Record<string, unknown> => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });
    for (const t of types) {
      for (const v of t.versions) {
        const prefix = t.group === '' ? `api/${v}` : `apis/${t.group}/${v}`;
        if (prefix !== gv) continue;
        const gvk = { group: t.group, version: v, kind: t.kind };
        const collection = `/${prefix}/${t.namespaced ? 'namespaces/{namespace}/' : ''}${t.plural}`;
        const op = (action: string): Record<string, unknown> => ({
          operationId: `${action}${t.kind}`,
          parameters: [param('dryRun'), param('fieldManager'), param('fieldValidation')],
          responses: { '200': { description: 'OK' } },
          'x-kubernetes-action': action,
          'x-kubernetes-group-version-kind': gvk,
        });
        paths[collection] = { post: op('post') };
        paths[`${collection}/{name}`] = { put: op('put'), patch: op('patch') };
      }
    }
    return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.31.0' }, paths, components: { schemas: {} } };
  };

  interface Route {
    t: ResourceType;
    version: string;
    namespace: string | undefined;
    name: string | undefined;
    subresource: string | undefined;
  }

  const route = (path: string): Route | undefined => {
    const parts = path.split('/').filter((p) => p !== '');
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 3) {
      group = '';
      version = parts[1] ?? '';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 4) {
      group = parts[1] ?? '';
      version = parts[2] ?? '';
      rest = parts.slice(3);
    } else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const plural = rest[0] ?? '';
    const t = types.find((x) => x.group === group && x.plural === plural && x.versions.includes(version));
    if (t === undefined) return undefined;
    if (!t.namespaced && namespace !== undefined) return undefined;
    return { t, version, namespace, name: rest[1], subresource: rest[2] };
  };

  const takeFault = (method: string, path: string, watch: boolean): number | undefined => {
    for (const f of faults) {
      if (f.left <= 0) continue;
      if (f.spec.method !== undefined && f.spec.method.toUpperCase() !== method) continue;
      if (f.spec.pathIncludes !== undefined && !path.includes(f.spec.pathIncludes)) continue;
      if (f.spec.watch !== undefined && f.spec.watch !== watch) continue;
      f.left -= 1;
      return f.spec.status;
    }
    return undefined;
  };

  const rbacObjects = (): { clusterRoles: RbacObject[]; roles: RbacObject[]; clusterRoleBindings: RbacObject[]; roleBindings: RbacObject[] } => {
    const all = (plural: string): RbacObject[] => [...(stores.get(`rbac.authorization.k8s.io/${plural}`)?.values() ?? [])] as RbacObject[];
    return { clusterRoles: all('clusterroles'), roles: all('roles'), clusterRoleBindings: all('clusterrolebindings'), roleBindings: all('rolebindings') };
  };

  /** The bearer token's user: the admin token, or a ServiceAccount token whose ServiceAccount still exists. */
  const authenticate = (req: IncomingMessage): UserInfo | undefined => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const token = m?.[1];
    if (token === undefined) return undefined;
    const a = Buffer.from(token);
    const b = Buffer.from(adminToken);
    if (a.length === b.length && timingSafeEqual(a, b)) return adminUser;
    const sa = tokens.verify(token);
    if (sa === undefined) return undefined;
    const stored = stores.get('/serviceaccounts')?.get(objKey(sa.namespace, sa.name));
    if (stored === undefined || meta(stored)['uid'] !== sa.uid) return undefined;
    return serviceAccountUser(sa.namespace, sa.name);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, user: UserInfo | undefined): Promise<number> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const q = url.searchParams;
    const method = (req.method ?? 'GET').toUpperCase();
    const isWatch = q.get('watch') === 'true' || q.get('watch') === '1';
    const sendJson = (status: number, body: unknown): number => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return status;
    };
    try {
      const fault = takeFault(method, path, isWatch);
      if (fault !== undefined) {
        const reason = fault === 403 ? 'Forbidden' : fault === 429 ? 'TooManyRequests' : fault === 401 ? 'Unauthorized' : fault === 410 ? 'Expired' : 'InternalError';
        return sendJson(fault, statusBody(fault, reason, `injected fault ${fault}`));
      }
      if (user === undefined) return sendJson(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
      const attrs = requestAttributes(method, path, q);
      if (!rbacAllows(user, attrs, rbacObjects())) {
        const details = attrs.resourceRequest ? { ...(attrs.name === '' ? {} : { name: attrs.name }), group: attrs.apiGroup, kind: attrs.resource } : {};
        return sendJson(403, statusBody(403, 'Forbidden', forbiddenMessage(user, attrs), details));
      }
      if (method === 'GET') {
        const doc = discovery(path);
        if (doc !== undefined) return sendJson(200, doc);
        const spec = openapi(path);
        if (spec !== undefined) return sendJson(200, spec);
        if (path.startsWith('/openapi/')) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      }
      const r = route(path);
      if (r === undefined) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      if (r.subresource !== undefined && r.subresource !== 'status') throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      const dryRun = q.getAll('dryRun').includes('All');
      const { t, version } = r;
      const ns = t.namespaced ? r.namespace : undefined;
      switch (method) {
        case 'GET': {
          if (r.name === undefined) {
            if (isWatch) {
              startWatch(req, res, t, version, ns, q);
              return 200;
            }
            return sendJson(200, doList(t, version, ns, q));
          }
          return sendJson(200, present(t, version, getStored(t, ns, r.name).obj));
        }
        case 'POST': {
          if (r.name !== undefined) throw new HttpError(405, 'MethodNotAllowed', 'POST on a named resource');
          const created = doCreate(t, ns, JSON.parse(await readBody(req)) as unknown, dryRun);
          return sendJson(201, present(t, version, created));
        }
        case 'PUT': {
          if (r.name === undefined) throw new HttpError(405, 'MethodNotAllowed', 'PUT on a collection');
          return sendJson(200, present(t, version, doUpdate(t, ns, r.name, JSON.parse(await readBody(req)) as unknown, dryRun)));
        }
        case 'PATCH': {
          if (r.name === undefined) throw new HttpError(405, 'MethodNotAllowed', 'PATCH on a collection');
          const out = doPatch(t, ns, r.name, req.headers['content-type'] ?? '', await readBody(req), dryRun);
          return sendJson(out.created ? 201 : 200, present(t, version, out.obj));
        }
        case 'DELETE': {
          if (r.name === undefined) throw new HttpError(405, 'MethodNotAllowed', 'deletecollection is not supported by the fake');
          const left = doDelete(t, ns, r.name, dryRun);
          if (left !== undefined) return sendJson(200, present(t, version, left));
          return sendJson(200, {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name: r.name, group: t.group, kind: t.plural },
          });
        }
        default:
          throw new HttpError(405, 'MethodNotAllowed', `method ${method} not allowed`);
      }
    } catch (err) {
      if (res.headersSent) {
        res.end();
        return 500;
      }
      if (err instanceof HttpError) return sendJson(err.status, statusBody(err.status, err.reason, err.message, err.details));
      if (err instanceof SyntaxError) return sendJson(400, statusBody(400, 'BadRequest', 'request body is not valid JSON'));
      return sendJson(500, statusBody(500, 'InternalError', err instanceof Error ? err.message : String(err)));
    }
  };

  for (const obj of bootstrapRbac()) {
    doCreate(typeFor(String(obj['apiVersion']), String(obj['kind'])), undefined, obj, false);
  }

  // client-node's https.Agent has no keep-alive: every API call is a new TLS connection. TLS 1.2
  // session resumption skips the key exchange on the reconnects (measured here: ~4 instead of ~5 ms
  // CPU per client-node call, both ends in one process); the API server accepts TLS 1.2 too.
  const server: Server = createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem, maxVersion: 'TLSv1.2' }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const user = authenticate(req);
    void handle(req, res, user).then((status) => {
      const ct = req.headers['content-type'];
      requestLog.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query,
        status,
        ...(ct === undefined ? {} : { contentType: ct }),
        ...(user === undefined ? {} : { user: user.name }),
      });
    });
  });

  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  const caData = Buffer.from(pki.caPem).toString('base64');
  const kubeconfigFor = (token: string, namespace = 'default'): { options: KubeconfigOptions; yaml: string } => ({
    options: {
      clusters: [{ name: 'fake', server: url, skipTLSVerify: false, caData }],
      users: [{ name: 'fake', token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace }],
      currentContext: 'fake',
    },
    yaml: stringifyYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: url, 'certificate-authority-data': caData } }],
      users: [{ name: 'fake', user: { token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace } }],
      'current-context': 'fake',
    }),
  });
  const admin = kubeconfigFor(adminToken);
  const kubeconfig = admin.options;
  const kubeconfigYaml = admin.yaml;

  const helperType = (apiVersion: string | undefined, kind: string | undefined): { t: ResourceType; version: string } => {
    if (apiVersion === undefined || kind === undefined) throw new Error('object needs apiVersion and kind');
    const t = typeFor(apiVersion, kind);
    return { t, version: apiVersion.includes('/') ? (apiVersion.split('/')[1] ?? '') : apiVersion };
  };
  const rethrow = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof HttpError) throw new Error(`fake kube: ${err.status} ${err.reason}: ${err.message}`, { cause: err });
      throw err;
    }
  };

  return {
    url,
    port,
    caPem: pki.caPem,
    kubeconfig,
    kubeconfigYaml,
    kubeconfigFor,
    issueServiceAccountToken(namespace, name) {
      const sa = stores.get('/serviceaccounts')?.get(objKey(namespace, name));
      if (sa === undefined) throw new Error(`fake kube: serviceaccount ${namespace}/${name} not found`);
      return tokens.issue({ namespace, name, uid: String(meta(sa)['uid']) });
    },
    requestLog,
    create(obj) {
      const { t, version } = helperType(obj.apiVersion, obj.kind);
      return rethrow(() => present(t, version, doCreate(t, str(meta(obj)['namespace']), obj, false)));
    },
    update(obj) {
      const { t, version } = helperType(obj.apiVersion, obj.kind);
      const m = meta(obj);
      return rethrow(() => present(t, version, doUpdate(t, str(m['namespace']), String(m['name']), obj, false)));
    },
    patch(ref, mergePatch) {
      const { t, version } = helperType(ref.apiVersion, ref.kind);
      return rethrow(() =>
        present(t, version, doPatch(t, ref.namespace, ref.name, 'application/merge-patch+json', JSON.stringify(mergePatch), false).obj),
      );
    },
    delete(ref) {
      const { t, version } = helperType(ref.apiVersion, ref.kind);
      return rethrow(() => {
        const left = doDelete(t, ref.namespace, ref.name, false);
        return left === undefined ? undefined : present(t, version, left);
      });
    },
    get(ref) {
      const { t, version } = helperType(ref.apiVersion, ref.kind);
      const o = stores.get(storeKey(t))?.get(objKey(t.namespaced ? ref.namespace : undefined, ref.name));
      return o === undefined ? undefined : present(t, version, o);
    },
    list(apiVersion, kind, namespace) {
      const { t, version } = helperType(apiVersion, kind);
      return sortedItems(t, namespace, () => true).map(([, o]) => present(t, version, o));
    },
    events() {
      const core = [...(stores.get('/events')?.values() ?? [])].map((o) => ({ ...clone(o), apiVersion: 'v1', kind: 'Event' }));
      const ev = [...(stores.get('events.k8s.io/events')?.values() ?? [])].map((o) => ({ ...clone(o), apiVersion: 'events.k8s.io/v1', kind: 'Event' }));
      return [...core, ...ev];
    },
    compact() {
      compactedRv = rv + 1;
      history.length = 0;
      // A real server bumps its revision on every write anyway; make sure "now" is strictly newer.
      rv += 1;
    },
    dropWatches() {
      for (const w of [...watchers]) {
        for (const timer of w.timers) clearTimeout(timer);
        watchers.delete(w);
        w.res.end();
      }
    },
    sendBookmarks() {
      for (const w of watchers) sendBookmark(w);
    },
    injectFault(fault) {
      faults.push({ spec: fault, left: fault.times ?? 1 });
    },
    get currentResourceVersion() {
      return rv;
    },
    get openWatches() {
      return watchers.size;
    },
    async stop() {
      for (const w of [...watchers]) {
        for (const timer of w.timers) clearTimeout(timer);
        w.res.end();
      }
      watchers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
