/**
 * The lean Kubernetes API client: JSON requests (get, list pages, merge patch, create) and watch
 * streams over `node:https`/`node:http` with one keep-alive agent per configuration. It replaces
 * `@kubernetes/client-node` on the controller's path: that library loads its whole generated API,
 * openid-client, proxy agents and the npm `undici` (which compiles a WASM HTTP parser at import),
 * about 90 MB of RSS before the first request (docs/kubernetes-client.md). client-node is still
 * loaded, lazily, for users whose credentials come from an `exec` plugin or an `auth-provider`:
 * it then computes each request's credentials and TLS options (`applyToHTTPSOptions`).
 *
 * Failures: a non-2xx answer throws `KubeApiError` (its `statusCode` is what `classifyKubeError`
 * reads); a network failure throws the socket's error (no status: `KUBE_UNAVAILABLE`).
 */
import { readFile } from 'node:fs/promises';
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { KubeClientConfig } from './kube-config.js';
import { ListScanner, type ListMeta } from './list-scanner.js';

/** A JSON merge patch (RFC 7386), what the controller sends to annotate runs. */
export const mergePatchContentType = 'application/merge-patch+json';

/** Bodies larger than this are refused (a page of 500 runs at etcd's 1.5 MiB cap stays far below). */
const maxResponseBytes = 512 * 1024 * 1024;
/** One watch event: one object (etcd caps them at 1.5 MiB) and its envelope. */
const maxWatchLineBytes = 16 * 1024 * 1024;
/** Cached file tokens are re-read after this long, and at once after a 401. */
const tokenFileTtlMs = 60_000;

/** A non-2xx answer of the API server. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly statusCode: number,
    /** The `Status` object's `reason` (e.g. `NotFound`, `Expired`), when the body carried one. */
    readonly reason: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /** Default `application/json` when there is a body. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

/**
 * One page of a list: the list's metadata and its items, each parsed only when the iteration
 * reaches it (a page of 500 signed runs is ~8 MB of JSON; parsed at once it weighs several times that).
 */
export interface ListPage {
  readonly metadata: { readonly resourceVersion?: string; readonly continue?: string };
  /** Number of items in the page. */
  readonly count: number;
  /** The items, parsed one by one; iterable once or many times. */
  readonly items: Iterable<unknown>;
}

export interface WatchEvent {
  /** `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`. */
  readonly type: string;
  readonly object: unknown;
}

export interface WatchOptions {
  readonly query?: Query;
  readonly signal?: AbortSignal;
  /**
   * The stream counts as dead when nothing (event or bookmark) arrived for this long; the watch then
   * ends like a server-side close. Default: the query's `timeoutSeconds` plus 30 s, else 5 minutes.
   */
  readonly idleTimeoutMs?: number;
}

/** How a watch stream ended. */
export type WatchEnd = 'closed' | 'aborted' | 'idle';

export interface KubeClient {
  readonly config: KubeClientConfig;
  /** Any request; resolves the parsed JSON body (undefined when empty). */
  request(method: string, path: string, options?: RequestOptions): Promise<unknown>;
  get(path: string, query?: Query): Promise<unknown>;
  /** One page of a list (`limit`/`continue` go in `query`). */
  list(path: string, query?: Query): Promise<ListPage>;
  /**
   * Every item of one list page, parsed and handed to `onItem` (awaited: backpressure) while the
   * response streams in; resolves the page's metadata (`continue`, `resourceVersion`). Holds one
   * item at a time, never the page. Stops early, resolving `{}`, when `signal` aborts.
   */
  listEach(path: string, query: Query | undefined, onItem: (item: unknown) => void | Promise<void>, signal?: AbortSignal): Promise<ListMeta>;
  /** JSON merge patch. */
  mergePatch(path: string, patch: unknown): Promise<unknown>;
  create(path: string, body: unknown): Promise<unknown>;
  /**
   * `?watch=true` on `path`: calls `onEvent` per event, in order. Resolves when the stream ends
   * (server close, idle, abort); rejects when the server refused it (`KubeApiError`) or the
   * connection failed.
   */
  watch(path: string, onEvent: (event: WatchEvent) => void, options?: WatchOptions): Promise<WatchEnd>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

interface Prepared {
  readonly options: https.RequestOptions;
  readonly transport: typeof https | typeof http;
}

type ClientNodeKubeConfig = {
  loadFromString(text: string): void;
  setCurrentContext(name: string): void;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
};

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function statusError(statusCode: number, body: string): KubeApiError {
  let reason: string | undefined;
  let message = `HTTP ${statusCode}`;
  try {
    const status = JSON.parse(body) as { reason?: unknown; message?: unknown };
    if (typeof status.reason === 'string') reason = status.reason;
    if (typeof status.message === 'string') message = `HTTP ${statusCode}: ${status.message}`;
  } catch {
    // not a Status object
  }
  return new KubeApiError(statusCode, reason, message);
}

function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/** The token cache of one `tokenFile` configuration. */
function fileToken(file: string): { get(): Promise<string>; invalidate(): void } {
  let cached: { value: string; at: number } | undefined;
  return {
    async get() {
      if (cached === undefined || Date.now() - cached.at > tokenFileTtlMs) cached = { value: (await readFile(file, 'utf8')).trim(), at: Date.now() };
      return cached.value;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

/**
 * `node:http`/`node:https` on first use, as CommonJS built-ins: the tekton room is also imported by
 * commands that never talk to a cluster, and the ESM facade of `node:http` loads more than it gives
 * (scripts/build.mjs, "facade-free built-ins").
 */
function builtins(): { http: typeof http; https: typeof https } {
  return { http: process.getBuiltinModule('node:http'), https: process.getBuiltinModule('node:https') };
}

export interface KubeClientOptions {
  /**
   * A request (not a watch) fails with `ETIMEDOUT` after this long without any byte from the server
   * (also while a list page streams in). Default 60 s: a hung API server must not hang a worker.
   */
  readonly requestTimeoutMs?: number;
}

export function createKubeClient(config: KubeClientConfig, clientOptions: KubeClientOptions = {}): KubeClient {
  const requestTimeoutMs = clientOptions.requestTimeoutMs ?? 60_000;
  const { http, https } = builtins();
  const base = new URL(config.server);
  const secure = base.protocol === 'https:';
  const transport = secure ? https : http;
  const prefix = base.pathname.replace(/\/+$/, '');
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        rejectUnauthorized: !config.skipTLSVerify,
        ...(config.caPem === undefined ? {} : { ca: config.caPem }),
        ...(config.clientCertPem === undefined ? {} : { cert: config.clientCertPem }),
        ...(config.clientKeyPem === undefined ? {} : { key: config.clientKeyPem }),
        ...(config.tlsServerName === undefined ? {} : { servername: config.tlsServerName }),
      })
    : new http.Agent({ keepAlive: true });
  const tokens = config.tokenFile === undefined ? undefined : fileToken(config.tokenFile);
  let delegate: Promise<ClientNodeKubeConfig> | undefined;
  const delegated = config.delegated;

  const loadDelegate = (): Promise<ClientNodeKubeConfig> => {
    if (delegated === undefined) throw new Error('no delegated auth');
    delegate ??= import('@kubernetes/client-node').then((sdk) => {
      const kc = new sdk.KubeConfig();
      kc.loadFromString(delegated.kubeconfigJson);
      kc.setCurrentContext(delegated.context);
      return kc as unknown as ClientNodeKubeConfig;
    });
    return delegate;
  };

  const prepare = async (method: string, path: string, query: Query | undefined, headers: Record<string, string>): Promise<Prepared> => {
    const options: https.RequestOptions = {
      protocol: base.protocol,
      hostname: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port === '' ? (secure ? 443 : 80) : Number(base.port),
      method,
      path: `${prefix}${path}${queryString(query)}`,
      headers: { Accept: 'application/json', ...headers },
    };
    if (delegated !== undefined) {
      // client-node sets the Authorization header, the TLS options and an agent of its own.
      await (await loadDelegate()).applyToHTTPSOptions(options);
      return { options, transport: options.protocol === 'http:' ? http : https };
    }
    options.agent = agent;
    const auth = options.headers as Record<string, string>;
    if (config.token !== undefined) auth['Authorization'] = `Bearer ${config.token}`;
    else if (tokens !== undefined) auth['Authorization'] = `Bearer ${await tokens.get()}`;
    else if (config.basicAuth !== undefined) auth['Authorization'] = `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`;
    return { options, transport };
  };

  /** Sends one request; resolves the response (not yet read). */
  const send = (prepared: Prepared, body: Buffer | undefined, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      const req = prepared.transport.request({ ...prepared.options, ...(signal === undefined ? {} : { signal }) }, resolve);
      req.once('error', reject);
      // Socket inactivity, for the headers and the body alike (the agent clears it when the socket is reused).
      if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer from the Kubernetes API within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.end(body);
    });

  /** Sends with the current credentials; once more after a 401 when the token comes from a file (rotation). */
  const open = async (method: string, path: string, query: Query | undefined, options: { body?: Buffer; contentType?: string; signal?: AbortSignal; stream?: boolean }): Promise<http.IncomingMessage> => {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(options.body.length);
    }
    for (let attempt = 0; ; attempt++) {
      const res = await send(await prepare(method, path, query, headers), options.body, options.signal, options.stream === true ? undefined : requestTimeoutMs);
      if (res.statusCode === 401 && tokens !== undefined && attempt === 0) {
        res.resume();
        tokens.invalidate();
        continue;
      }
      return res;
    }
  };

  const readBytes = (res: http.IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxResponseBytes) {
          res.destroy(new Error(`Kubernetes API response larger than ${maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.once('end', () => resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size)));
      res.once('error', reject);
      res.once('aborted', () => reject(new Error('Kubernetes API response aborted')));
    });

  const readBody = async (res: http.IncomingMessage): Promise<string> => (await readBytes(res)).toString('utf8');

  /** Sends a request and returns the 2xx body's bytes; a non-2xx answer throws `KubeApiError`. */
  const requestBytes = async (method: string, path: string, options: RequestOptions = {}): Promise<Buffer> => {
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const res = await open(method, path, options.query, {
      ...(body === undefined ? {} : { body }),
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const bytes = await readBytes(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw statusError(status, bytes.toString('utf8'));
    return bytes;
  };

  const request = async (method: string, path: string, options: RequestOptions = {}): Promise<unknown> => {
    const bytes = await requestBytes(method, path, options);
    return bytes.length === 0 ? undefined : (JSON.parse(bytes.toString('utf8')) as unknown);
  };

  const listEach = async (path: string, query: Query | undefined, onItem: (item: unknown) => void | Promise<void>, signal?: AbortSignal): Promise<ListMeta> => {
    const res = await open('GET', path, query, {});
    const status = res.statusCode ?? 0;
    if (status !== 200) throw statusError(status, await readBody(res));
    const scanner = new ListScanner();
    let size = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxResponseBytes) throw new Error(`Kubernetes API response larger than ${maxResponseBytes} bytes`);
        for (const item of scanner.push(chunk)) {
          if (signal?.aborted === true) return {};
          await onItem(JSON.parse(item.toString('utf8')) as unknown);
        }
        if (signal?.aborted === true) return {};
      }
      return scanner.end();
    } finally {
      if (!res.complete) res.destroy();
    }
  };

  const watch = async (path: string, onEvent: (event: WatchEvent) => void, options: WatchOptions = {}): Promise<WatchEnd> => {
    const { signal } = options;
    const aborted = (): boolean => signal?.aborted ?? false;
    if (aborted()) return 'aborted';
    const timeoutSeconds = Number(options.query?.['timeoutSeconds'] ?? Number.NaN);
    const idleMs = options.idleTimeoutMs ?? (Number.isFinite(timeoutSeconds) ? timeoutSeconds * 1000 + 30_000 : 300_000);
    let res: http.IncomingMessage;
    try {
      res = await open('GET', path, { ...options.query, watch: 'true' }, { stream: true, ...(signal === undefined ? {} : { signal }) });
    } catch (err) {
      if (isAbort(err) && aborted()) return 'aborted';
      throw err;
    }
    const status = res.statusCode ?? 0;
    if (status !== 200) throw statusError(status, await readBody(res));
    return new Promise<WatchEnd>((resolve, reject) => {
      let pending = '';
      let settled = false;
      let idleTimer: NodeJS.Timeout | undefined;
      const finish = (end: WatchEnd | Error): void => {
        if (settled) return;
        settled = true;
        if (idleTimer !== undefined) clearTimeout(idleTimer);
        signal?.removeEventListener('abort', onAbort);
        if (end === 'closed') res.resume();
        else res.destroy();
        if (end instanceof Error) reject(end);
        else resolve(end);
      };
      const armIdle = (): void => {
        if (idleTimer !== undefined) clearTimeout(idleTimer);
        idleTimer = setTimeout(() => finish('idle'), idleMs);
        idleTimer.unref();
      };
      function onAbort(): void {
        finish('aborted');
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      armIdle();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (settled) return;
        armIdle();
        pending += chunk;
        let nl: number;
        while (!settled && (nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line === '') continue;
          let event: WatchEvent;
          try {
            const parsed = JSON.parse(line) as { type?: unknown; object?: unknown };
            event = { type: typeof parsed.type === 'string' ? parsed.type : '', object: parsed.object };
          } catch (err) {
            finish(new Error('watch stream carried a line that is not JSON', { cause: err }));
            return;
          }
          try {
            onEvent(event);
          } catch (err) {
            finish(err instanceof Error ? err : new Error(String(err)));
            return;
          }
        }
        if (pending.length > maxWatchLineBytes) finish(new Error(`watch event larger than ${maxWatchLineBytes} bytes`));
      });
      res.once('end', () => finish('closed'));
      res.once('error', (err) => finish(aborted() ? 'aborted' : err));
      res.once('aborted', () => finish(aborted() ? 'aborted' : new Error('watch stream aborted by the server')));
      res.once('close', () => finish(aborted() ? 'aborted' : 'closed'));
    });
  };

  return {
    config,
    request,
    get: (path, query) => request('GET', path, query === undefined ? {} : { query }),
    async list(path, query) {
      return splitList(await requestBytes('GET', path, query === undefined ? {} : { query }));
    },
    listEach,
    mergePatch: (path, patch) => request('PATCH', path, { body: patch, contentType: mergePatchContentType }),
    create: (path, body) => request('POST', path, { body }),
    watch,
    close() {
      agent.destroy();
    },
  };
}

/** Splits a whole list response into its metadata and lazily parsed items (`ListScanner`). */
export function splitList(bytes: Buffer): ListPage {
  const scanner = new ListScanner();
  const items = scanner.push(bytes);
  const metadata = scanner.end();
  return {
    metadata,
    count: items.length,
    items: {
      *[Symbol.iterator]() {
        for (const item of items) yield JSON.parse(item.toString('utf8')) as unknown;
      },
    },
  };
}

const shared = new WeakMap<KubeClientConfig, KubeClient>();

/** One client (one connection pool) per configuration object: the RunStore and the watchers share it. */
export function kubeClientFor(config: KubeClientConfig): KubeClient {
  let client = shared.get(config);
  if (client === undefined) {
    client = createKubeClient(config);
    shared.set(config, client);
  }
  return client;
}
