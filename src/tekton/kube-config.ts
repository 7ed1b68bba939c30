/**
 * Where the Kubernetes API server is and how to authenticate to it: kubeconfig files and strings
 * (kubectl's search order) and the in-cluster service account, read into one small own type,
 * `KubeClientConfig`. No `@kubernetes/client-node` here: it is loaded only for users whose
 * credentials come from an `exec` plugin or an `auth-provider` (see kube-http.ts and
 * docs/kubernetes-client.md).
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ProvenantError } from '../errors.js';

/** The service account files of a pod, under `inClusterRoot` when given (tests). */
export const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfigSource {
  /** kubeconfig text, YAML or JSON (tests, demo, benchmarks). */
  readonly kubeconfigYaml?: string;
  /** Path of a kubeconfig file (`--kubeconfig`). */
  readonly kubeconfigPath?: string;
  /** Force the in-cluster service account config. */
  readonly inCluster?: boolean;
  /**
   * In-cluster config with the service account files under this root
   * (`<root>/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}`);
   * `KUBERNETES_SERVICE_HOST`/`PORT` still name the server. Implies `inCluster`.
   */
  readonly inClusterRoot?: string;
  /** Context to use instead of the file's current-context. */
  readonly context?: string;
}

/**
 * Credentials computed per request by `@kubernetes/client-node` (exec plugins, auth-providers,
 * proxies): the kubeconfig document (paths made absolute) and the context to use.
 */
export interface DelegatedAuth {
  /** The kubeconfig as JSON (valid YAML), as client-node's `loadFromString` reads it. */
  readonly kubeconfigJson: string;
  readonly context: string;
  /** Why the lean client cannot do it alone, e.g. `exec`, `auth-provider`, `proxy-url`. */
  readonly reason: string;
}

/** The one configuration of the lean client: a server, TLS material and one way to authenticate. */
export interface KubeClientConfig {
  /** `https://host:port` or `http://host:port`, no trailing slash (may carry a path prefix). */
  readonly server: string;
  /** The context's namespace (in-cluster: the pod's), when it names one. */
  readonly namespace: string | undefined;
  /** `insecure-skip-tls-verify` (always true for `http://` servers, which have no TLS). */
  readonly skipTLSVerify: boolean;
  /** PEM of the CA to trust instead of the system's. */
  readonly caPem?: string;
  /** `tls-server-name`. */
  readonly tlsServerName?: string;
  /** Client certificate and key (PEM). */
  readonly clientCertPem?: string;
  readonly clientKeyPem?: string;
  /** A static bearer token. */
  readonly token?: string;
  /** A bearer token re-read from this file (projected service account tokens rotate). */
  readonly tokenFile?: string;
  /** Basic authentication. */
  readonly basicAuth?: { readonly username: string; readonly password: string };
  /** Set when client-node has to provide the credentials (and then the TLS options) per request. */
  readonly delegated?: DelegatedAuth;
}

const hint = 'pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account';

function invalid(message: string, cause?: unknown): ProvenantError {
  return new ProvenantError('config', 'KUBECONFIG_INVALID', message, { ...(cause === undefined ? {} : { cause }), context: { hint } });
}

type Doc = Record<string, unknown>;
interface Named {
  readonly name: string;
  readonly body: Doc;
}

function asDoc(v: unknown): Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Doc) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const requireModule = createRequire(import.meta.url);

/** JSON when it is JSON (no YAML parser loaded: ~10 MB), else YAML through the `yaml` package. */
function parseDocument(text: string): Doc {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) return asDoc(JSON.parse(trimmed));
  const yaml = requireModule('yaml') as { parse(src: string): unknown };
  return asDoc(yaml.parse(text));
}

/** `clusters`/`users`/`contexts` entries: `{name, cluster|user|context: {...}}`. */
function namedList(doc: Doc, listKey: string, bodyKey: string): Named[] {
  const list = doc[listKey];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error(`${listKey} is not a list`);
  return list.map((entry) => {
    const e = asDoc(entry);
    const name = str(e['name']);
    if (name === undefined) throw new Error(`an entry of ${listKey} has no name`);
    return { name, body: asDoc(e[bodyKey]) };
  });
}

interface ParsedKubeconfig {
  clusters: Named[];
  users: Named[];
  contexts: Named[];
  currentContext: string | undefined;
}

const pathKeys: Readonly<Record<'cluster' | 'user', readonly string[]>> = {
  cluster: ['certificate-authority'],
  user: ['client-certificate', 'client-key', 'tokenFile', 'token-file'],
};

/** Relative file names in a kubeconfig file are relative to its directory (as kubectl reads them). */
function absolutize(entries: Named[], kind: 'cluster' | 'user', dir: string | undefined): Named[] {
  if (dir === undefined) return entries;
  return entries.map(({ name, body }) => {
    const fixed: Doc = { ...body };
    for (const k of pathKeys[kind]) {
      const v = str(fixed[k]);
      if (v !== undefined && !path.isAbsolute(v)) fixed[k] = path.join(dir, v);
    }
    return { name, body: fixed };
  });
}

function parseKubeconfig(text: string, dir: string | undefined): ParsedKubeconfig {
  const doc = parseDocument(text);
  return {
    clusters: absolutize(namedList(doc, 'clusters', 'cluster'), 'cluster', dir),
    users: absolutize(namedList(doc, 'users', 'user'), 'user', dir),
    contexts: namedList(doc, 'contexts', 'context'),
    currentContext: str(doc['current-context']),
  };
}

/** Several files (`KUBECONFIG=a:b`): the first one naming an entry (or the current context) wins, as with kubectl. */
function merge(configs: ParsedKubeconfig[]): ParsedKubeconfig {
  const pick = (lists: Named[][]): Named[] => {
    const seen = new Set<string>();
    const out: Named[] = [];
    for (const e of lists.flat()) {
      if (seen.has(e.name)) continue;
      seen.add(e.name);
      out.push(e);
    }
    return out;
  };
  return {
    clusters: pick(configs.map((c) => c.clusters)),
    users: pick(configs.map((c) => c.users)),
    contexts: pick(configs.map((c) => c.contexts)),
    currentContext: configs.find((c) => c.currentContext !== undefined)?.currentContext,
  };
}

function readText(file: string): string {
  return readFileSync(file, 'utf8');
}

function dataOrFile(body: Doc, dataKey: string, fileKey: string): string | undefined {
  const data = str(body[dataKey]);
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
  const file = str(body[fileKey]);
  return file === undefined ? undefined : readText(file);
}

function fromKubeconfig(parsed: ParsedKubeconfig, contextName: string | undefined): KubeClientConfig {
  const ctxName = contextName ?? parsed.currentContext;
  if (ctxName === undefined) throw invalid('the Kubernetes client configuration has no current context');
  const ctx = parsed.contexts.find((c) => c.name === ctxName);
  if (ctx === undefined) throw invalid(`the kubeconfig has no context named ${ctxName}`);
  const clusterName = str(ctx.body['cluster']);
  const cluster = parsed.clusters.find((c) => c.name === clusterName)?.body;
  if (cluster === undefined) throw invalid('the Kubernetes client configuration has no current cluster');
  const server = str(cluster['server']);
  if (server === undefined) throw invalid(`cluster ${clusterName ?? ''} has no server`);
  if (!/^https?:\/\//.test(server)) throw invalid(`cluster ${clusterName ?? ''}: server must be an http(s) URL`);
  const userName = str(ctx.body['user']);
  const user = parsed.users.find((u) => u.name === userName)?.body ?? {};
  const namespace = str(ctx.body['namespace']);
  const plainHttp = server.startsWith('http://');
  const tlsServerName = str(cluster['tls-server-name']);
  const caPem = plainHttp ? undefined : dataOrFile(cluster, 'certificate-authority-data', 'certificate-authority');
  const delegatedReason = user['exec'] !== undefined ? 'exec' : user['auth-provider'] !== undefined ? 'auth-provider' : str(cluster['proxy-url']) !== undefined ? 'proxy-url' : undefined;
  const base = {
    server: server.replace(/\/+$/, ''),
    namespace,
    skipTLSVerify: plainHttp || cluster['insecure-skip-tls-verify'] === true,
    ...(caPem === undefined ? {} : { caPem }),
    ...(tlsServerName === undefined ? {} : { tlsServerName }),
  };
  if (delegatedReason !== undefined) {
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: parsed.clusters.map((c) => ({ name: c.name, cluster: c.body })),
      users: parsed.users.map((u) => ({ name: u.name, user: u.body })),
      contexts: parsed.contexts.map((c) => ({ name: c.name, context: c.body })),
      'current-context': ctxName,
    };
    return { ...base, delegated: { kubeconfigJson: JSON.stringify(doc), context: ctxName, reason: delegatedReason } };
  }
  const clientCertPem = dataOrFile(user, 'client-certificate-data', 'client-certificate');
  const clientKeyPem = dataOrFile(user, 'client-key-data', 'client-key');
  const token = str(user['token']);
  const tokenFile = str(user['tokenFile']) ?? str(user['token-file']);
  const username = str(user['username']);
  return {
    ...base,
    ...(clientCertPem === undefined ? {} : { clientCertPem }),
    ...(clientKeyPem === undefined ? {} : { clientKeyPem }),
    ...(token !== undefined ? { token } : tokenFile !== undefined ? { tokenFile } : {}),
    ...(username === undefined ? {} : { basicAuth: { username, password: str(user['password']) ?? '' } }),
  };
}

function fileExists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The pod's service account: `KUBERNETES_SERVICE_HOST`/`PORT`, its CA, a token file re-read on rotation. */
function fromCluster(root: string | undefined, env: NodeJS.ProcessEnv): KubeClientConfig {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) throw new Error('KUBERNETES_SERVICE_HOST/PORT unset');
  const dir = `${root ?? ''}${serviceAccountDir}`;
  // As client-node and client-go: the ports kube-proxy serves plain http on.
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const namespaceFile = path.join(dir, 'namespace');
  const namespace = fileExists(namespaceFile) ? readText(namespaceFile).trim() || undefined : undefined;
  return {
    server: `${scheme}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`, // IPv6 in brackets
    namespace,
    skipTLSVerify: scheme === 'http',
    ...(scheme === 'https' ? { caPem: readText(path.join(dir, 'ca.crt')) } : {}),
    tokenFile: path.join(dir, 'token'),
  };
}

/**
 * kubectl's search order when nothing is given: `$KUBECONFIG` (files merged, first wins),
 * `~/.kube/config`, the in-cluster service account, then `http://localhost:8080` (as client-node
 * and kubectl default). Any failure is a config error `KUBECONFIG_INVALID`.
 */
export function loadKubeConfig(source: KubeConfigSource = {}, env: NodeJS.ProcessEnv = process.env): KubeClientConfig {
  try {
    if (source.kubeconfigYaml !== undefined) return fromKubeconfig(parseKubeconfig(source.kubeconfigYaml, undefined), source.context);
    if (source.kubeconfigPath !== undefined) {
      return fromKubeconfig(parseKubeconfig(readText(source.kubeconfigPath), path.dirname(path.resolve(source.kubeconfigPath))), source.context);
    }
    if (source.inCluster === true || source.inClusterRoot !== undefined) return fromCluster(source.inClusterRoot, env);
    const files = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter((f) => f !== '');
    if (files.length > 0) {
      return fromKubeconfig(merge(files.map((f) => parseKubeconfig(readText(f), path.dirname(path.resolve(f))))), source.context);
    }
    const home = env['HOME'] ?? os.homedir();
    const own = path.join(home, '.kube', 'config');
    if (fileExists(own)) return fromKubeconfig(parseKubeconfig(readText(own), path.dirname(own)), source.context);
    if (fileExists(path.join(serviceAccountDir, 'token'))) return fromCluster(undefined, env);
    return { server: 'http://localhost:8080', namespace: undefined, skipTLSVerify: true };
  } catch (err) {
    if (err instanceof ProvenantError) throw err;
    throw invalid('could not load a Kubernetes client configuration', err);
  }
}
