/**
 * Git repositories with signed commits for the `trace` source tests: SSH-signed (`gpg.format ssh`,
 * keys from ssh-keygen), gitsign-signed (the real gitsign 0.13 against the mock Fulcio through the v1
 * adapter and the mock Rekor), unsigned, and tampered (a signed commit object with its message changed).
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { debianTool } from './debian-tools.js';

export interface SshKey {
  readonly privateKeyFile: string;
  readonly publicKey: string;
}

export function createSshKey(dir: string, name: string): SshKey {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@example.com`, '-f', file]);
  return { privateKeyFile: file, publicKey: readFileSync(`${file}.pub`, 'utf8').trim() };
}

const identity = ['-c', 'user.name=Dev', '-c', 'user.email=dev@example.com'];

export function initRepo(dir: string): string {
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  return dir;
}

function head(repo: string): string {
  return execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
}

export function commitUnsigned(repo: string, message: string): string {
  execFileSync('git', ['-C', repo, ...identity, 'commit', '-q', '--allow-empty', '--no-gpg-sign', '-m', message]);
  return head(repo);
}

export function commitSsh(repo: string, key: SshKey, message: string): string {
  execFileSync('git', ['-C', repo, ...identity, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${key.privateKeyFile}`, 'commit', '-q', '--allow-empty', '-S', '-m', message]);
  return head(repo);
}

/** gitsign environment: Fulcio v1 (adapter) + Rekor (mock), the mock's CA / CT / Rekor keys, an OIDC token. */
export interface GitsignSetup {
  readonly fulcioUrl: string;
  readonly rekorUrl: string;
  readonly trustedRoot: Record<string, unknown>;
  readonly dir: string;
}

function pem(b64: string, type: string): string {
  return `-----BEGIN ${type}-----\n${b64.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END ${type}-----\n`;
}

function token(subject: string): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'RS256' })}.${enc({ iss: 'https://accounts.example.com', sub: subject, email: subject, email_verified: true, aud: 'sigstore', exp: 4102444800 })}.c2ln`;
}

export const GITSIGN_ISSUER = 'https://accounts.example.com';

/** Async: gitsign talks to the mock services served by this very process. */
export async function commitGitsign(repo: string, setup: GitsignSetup, subject: string, message: string): Promise<string> {
  const root = setup.trustedRoot as {
    certificateAuthorities: { certChain: { certificates: { rawBytes: string }[] } }[];
    ctlogs: { publicKey: { rawBytes: string } }[];
    tlogs: { publicKey: { rawBytes: string } }[];
  };
  const files = { ca: path.join(setup.dir, 'fulcio.pem'), ct: path.join(setup.dir, 'ct.pem'), rekor: path.join(setup.dir, 'rekor.pem') };
  writeFileSync(files.ca, root.certificateAuthorities.flatMap((c) => c.certChain.certificates.map((x) => pem(x.rawBytes, 'CERTIFICATE'))).join(''));
  writeFileSync(files.ct, pem(root.ctlogs[0]!.publicKey.rawBytes, 'PUBLIC KEY'));
  writeFileSync(files.rekor, pem(root.tlogs[0]!.publicKey.rawBytes, 'PUBLIC KEY'));
  await promisify(execFile)('git', ['-C', repo, ...identity, '-c', 'gpg.format=x509', '-c', `gpg.x509.program=${debianTool('gitsign')}`, 'commit', '-q', '--allow-empty', '-S', '-m', message], {
    env: {
      ...process.env,
      SIGSTORE_ID_TOKEN: token(subject),
      TUF_ROOT: path.join(setup.dir, 'tuf'),
      SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: files.ct,
      SIGSTORE_REKOR_PUBLIC_KEY: files.rekor,
      GITSIGN_FULCIO_URL: setup.fulcioUrl,
      GITSIGN_REKOR_URL: setup.rekorUrl,
      GITSIGN_FULCIO_ROOT: files.ca,
      GITSIGN_CREDENTIAL_CACHE: '',
    },
    timeout: 30_000,
  });
  return head(repo);
}

/** A copy of signed commit `sha` with another message (same signature): written as a new object. */
export function tamperCommit(repo: string, sha: string, message: string): string {
  const raw = execFileSync('git', ['-C', repo, 'cat-file', 'commit', sha], { encoding: 'utf8' });
  const split = raw.indexOf('\n\n');
  const altered = `${raw.slice(0, split)}\n\n${message}\n`;
  return execFileSync('git', ['-C', repo, 'hash-object', '-t', 'commit', '-w', '--stdin'], { input: altered, encoding: 'utf8' }).trim();
}
