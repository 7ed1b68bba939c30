/**
 * A local TUF repository (consistent snapshots, ed25519 keys) served over node:http, for the
 * `signers.x509.tuf.mirror.url` tests. Metadata is written by hand from the TUF specification and signed
 * over its canonical JSON, so tuf-js (behind @sigstore/tuf) verifies it exactly as a real mirror's.
 * Test-only.
 */
import { createHash, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { canonicalize } from '@tufjs/canonical-json';

interface TufKey {
  readonly id: string;
  readonly json: Record<string, unknown>;
  readonly privateKey: KeyObject;
}

function newKey(): TufKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString('hex');
  const json = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw } };
  return { id: createHash('sha256').update(canonicalize(json)).digest('hex'), json, privateKey };
}

const tufTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function signed(body: Record<string, unknown>, keys: readonly TufKey[]): Buffer {
  const data = Buffer.from(canonicalize(body));
  return Buffer.from(JSON.stringify({ signed: body, signatures: keys.map((k) => ({ keyid: k.id, sig: cryptoSign(null, data, k.privateKey).toString('hex') })) }));
}

export interface TufTestRepo {
  readonly url: string;
  /** Paths fetched, in order. */
  readonly fetched: string[];
  /** Publishes `trusted_root.json` as a new targets/snapshot/timestamp version. */
  publishTrustedRoot(trustedRoot: unknown): void;
  /** Root v(n+1) with a new root key and a new timestamp key, signed by the old and the new root keys. */
  rotateRoot(): void;
  /** Re-signs timestamp.json with an expiry in the past. */
  expireTimestamp(): void;
  stop(): Promise<void>;
}

export async function startTufRepo(): Promise<TufTestRepo> {
  const files = new Map<string, Buffer>();
  const fetched: string[] = [];
  let rootKey = newKey();
  let timestampKey = newKey();
  const snapshotKey = newKey();
  const targetsKey = newKey();
  let rootVersion = 0;
  let version = 0;
  let timestampVersion = 0;
  const future = tufTime(new Date(Date.now() + 365 * 24 * 3600_000));

  function writeRoot(signers: readonly TufKey[]): void {
    rootVersion += 1;
    const keys = Object.fromEntries([rootKey, timestampKey, snapshotKey, targetsKey].map((k) => [k.id, k.json]));
    const role = (k: TufKey): Record<string, unknown> => ({ keyids: [k.id], threshold: 1 });
    const body = signed(
      {
        _type: 'root',
        spec_version: '1.0.31',
        version: rootVersion,
        expires: future,
        consistent_snapshot: true,
        keys,
        roles: { root: role(rootKey), timestamp: role(timestampKey), snapshot: role(snapshotKey), targets: role(targetsKey) },
      },
      signers,
    );
    files.set(`/${rootVersion}.root.json`, body);
    files.set('/root.json', body);
  }

  function writeTimestamp(expires: string): void {
    timestampVersion += 1;
    files.set('/timestamp.json', signed({ _type: 'timestamp', spec_version: '1.0.31', version: timestampVersion, expires, meta: { 'snapshot.json': { version } } }, [timestampKey]));
  }

  writeRoot([rootKey]);

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    fetched.push(path);
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    fetched,
    publishTrustedRoot: (trustedRoot) => {
      version += 1;
      const target = Buffer.from(JSON.stringify(trustedRoot));
      const sha = createHash('sha256').update(target).digest('hex');
      files.set(`/targets/${sha}.trusted_root.json`, target);
      files.set(
        `/${version}.targets.json`,
        signed({ _type: 'targets', spec_version: '1.0.31', version, expires: future, targets: { 'trusted_root.json': { length: target.length, hashes: { sha256: sha } } } }, [targetsKey]),
      );
      files.set(`/${version}.snapshot.json`, signed({ _type: 'snapshot', spec_version: '1.0.31', version, expires: future, meta: { 'targets.json': { version } } }, [snapshotKey]));
      writeTimestamp(future);
    },
    rotateRoot: () => {
      const old = rootKey;
      rootKey = newKey();
      timestampKey = newKey();
      writeRoot([old, rootKey]);
      writeTimestamp(future);
    },
    expireTimestamp: () => {
      writeTimestamp(tufTime(new Date(Date.now() - 3600_000)));
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
