/**
 * Running Debian's cosign 2.5 against the mock Sigstore services, offline. Trust comes only from files
 * written here from the mock's trusted root: `trusted_root.json` (for --new-bundle-format; cosign 2.5
 * reads it with strict protojson, which predates the `operator` fields, so they are dropped), and for
 * cosign's legacy `.sig`/`.att` code paths (which take no --trusted-root) SIGSTORE_ROOT_FILE (Fulcio CA),
 * SIGSTORE_REKOR_PUBLIC_KEY, SIGSTORE_CT_LOG_PUBLIC_KEY_FILE and a TSA chain for --timestamp-certificate-chain.
 * TUF_ROOT points into the directory, so nothing is fetched.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { debianTool } from './debian-tools.js';
import type { SigstoreMock } from './sigstore-mock.js';

export interface CosignResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export interface CosignKeyless {
  readonly files: { readonly trustedRoot: string; readonly fulcioRoot: string; readonly rekorKey: string; readonly ctKey: string; readonly tsaChain: string };
  run(args: readonly string[]): Promise<CosignResult>;
  /** --certificate-identity / --certificate-oidc-issuer */
  identity(san: string, issuer: string): string[];
  /** Legacy layout with the Rekor bundle annotation checked offline. */
  legacyLogged(): string[];
  /** Legacy layout, no log: the RFC 3161 timestamp (chain from `tsaChain`) proves the time. */
  legacyStamped(tsaChain?: string): string[];
  /** Sigstore bundle referrers; `stamped`: no log entry expected. */
  bundle(stamped: boolean): string[];
}

interface TrustedRootJson {
  certificateAuthorities: { certChain: { certificates: { rawBytes: string }[] } }[];
  tlogs: { publicKey: { rawBytes: string } }[];
  ctlogs: { publicKey: { rawBytes: string } }[];
  timestampAuthorities: { certChain: { certificates: { rawBytes: string }[] } }[];
}

function pem(label: string, b64: string): string {
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

const registryFlags = ['--allow-insecure-registry', '--allow-http-registry'];

export async function prepareCosignKeyless(dir: string, mock: SigstoreMock): Promise<CosignKeyless> {
  const bin = debianTool('cosign');
  const root = mock.trustedRoot as unknown as TrustedRootJson;
  const files = {
    trustedRoot: path.join(dir, 'trusted_root.json'),
    fulcioRoot: path.join(dir, 'fulcio-root.pem'),
    rekorKey: path.join(dir, 'rekor.pub'),
    ctKey: path.join(dir, 'ctlog.pub'),
    tsaChain: path.join(dir, 'tsa-chain.pem'),
  };
  await writeFile(files.trustedRoot, JSON.stringify(mock.trustedRoot, (key, value: unknown) => (key === 'operator' ? undefined : value)));
  await writeFile(files.fulcioRoot, pem('CERTIFICATE', root.certificateAuthorities[0]?.certChain.certificates[0]?.rawBytes ?? ''));
  await writeFile(files.rekorKey, pem('PUBLIC KEY', root.tlogs[0]?.publicKey.rawBytes ?? ''));
  await writeFile(files.ctKey, pem('PUBLIC KEY', root.ctlogs[0]?.publicKey.rawBytes ?? ''));
  await writeFile(files.tsaChain, (root.timestampAuthorities[0]?.certChain.certificates ?? []).map((c) => pem('CERTIFICATE', c.rawBytes)).join(''));
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    HOME: dir,
    TUF_ROOT: path.join(dir, 'tuf'),
    SIGSTORE_ROOT_FILE: files.fulcioRoot,
    SIGSTORE_REKOR_PUBLIC_KEY: files.rekorKey,
    SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: files.ctKey,
  };
  return {
    files,
    run: (args) =>
      new Promise((resolve) => {
        execFile(bin, [...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ code, out: stdout, err: stderr });
        });
      }),
    identity: (san, issuer) => ['--certificate-identity', san, '--certificate-oidc-issuer', issuer],
    legacyLogged: () => [...registryFlags],
    legacyStamped: (tsaChain = files.tsaChain) => [...registryFlags, '--insecure-ignore-tlog', '--use-signed-timestamps', '--timestamp-certificate-chain', tsaChain],
    bundle: (stamped) => [...registryFlags, '--new-bundle-format', '--trusted-root', files.trustedRoot, ...(stamped ? ['--insecure-ignore-tlog'] : [])],
  };
}
