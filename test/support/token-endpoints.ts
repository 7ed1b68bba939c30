/**
 * HTTP stand-ins for two OIDC token sources (test-only):
 * - the GitHub Actions ID-token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`: bearer auth, `audience` query,
 *   answer `{"value": "<jwt>"}`);
 * - the GCE metadata server identity endpoint (`Metadata-Flavor: Google` required, `audience` query,
 *   answer the bare JWT), reachable through `GCE_METADATA_HOST`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenEndpoint {
  /** For GitHub: the full request URL (already has a query); for Google: `host:port`. */
  readonly address: string;
  readonly requests: Array<{ path: string; audience: string | null; authorized: boolean }>;
  stop(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function startGithubTokenEndpoint(bearer: string, mint: (audience: string) => string): Promise<TokenEndpoint> {
  const requests: TokenEndpoint['requests'] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const authorized = req.headers.authorization === `bearer ${bearer}`;
    requests.push({ path: url.pathname, audience: url.searchParams.get('audience'), authorized });
    if (!authorized) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 1, value: mint(url.searchParams.get('audience') ?? '') }));
  });
  const port = await listen(server);
  return {
    address: `http://127.0.0.1:${port}/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0`,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function startGceMetadataServer(mint: (audience: string) => string): Promise<TokenEndpoint> {
  const requests: TokenEndpoint['requests'] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const authorized = req.headers['metadata-flavor'] === 'Google';
    requests.push({ path: url.pathname, audience: url.searchParams.get('audience'), authorized });
    if (!authorized) {
      res.writeHead(403).end();
      return;
    }
    if (url.pathname !== '/computeMetadata/v1/instance/service-accounts/default/identity') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'metadata-flavor': 'Google' }).end(mint(url.searchParams.get('audience') ?? ''));
  });
  const port = await listen(server);
  return { address: `127.0.0.1:${port}`, requests, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
