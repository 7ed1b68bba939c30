/**
 * Source commits of a trace: for a `git+<url>@<sha1>` link whose URL the user mapped to a local clone
 * (`--source URL=DIR`, or a `file://` URL), read the commit with git and check its signature against the
 * rule for that URL: SSH signatures (`gpg.format ssh`) with `ssh-keygen -Y verify` over the rule's SSH
 * keys; Sigstore signatures (gitsign: CMS with a Fulcio certificate) with `verifyGitsignSignature`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProvenantError } from '../errors.js';
import type { CommitCheck } from './trace.js';
import { verifyGitsignSignature } from './trace-gitsign.js';
import type { TraceRule } from './trace-policy.js';

export interface CommitCheckerDeps {
  /** `--source URL=DIR`: clone directories by repository URL (with or without `git+` / `.git`). */
  readonly sources: ReadonlyMap<string, string>;
  readonly git?: string;
  readonly sshKeygen?: string;
  /** Rekor holding gitsign's entries (`--rekor-url`, else the trusted root's first log). */
  readonly rekorUrl?: string | undefined;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(bin: string, args: readonly string[], options: { cwd?: string; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, [...args], { cwd: options.cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } }, (err, stdout, stderr) => {
      if (err !== null && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** `https://github.com/acme/app` for `git+https://github.com/acme/app.git` and its spellings. */
export function normaliseGitUrl(url: string): string {
  let u = url.startsWith('git+') ? url.slice(4) : url;
  if (u.endsWith('/')) u = u.slice(0, -1);
  if (u.endsWith('.git')) u = u.slice(0, -4);
  return u;
}

/** Parses `--source URL=DIR` values. Throws `input` `TRACE_SOURCE_INVALID` on a value without `=`. */
export function parseSourceMappings(values: readonly string[], cwd: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new ProvenantError('input', 'TRACE_SOURCE_INVALID', `--source must be URL=DIR, got ${v}`);
    out.set(normaliseGitUrl(v.slice(0, eq)), path.resolve(cwd, v.slice(eq + 1)));
  }
  return out;
}

/** A raw commit object split into the signed payload (without the `gpgsig` header) and the signature. */
export function splitSignedCommit(raw: string): { payload: string; signature?: string } {
  const lines = raw.split('\n');
  const out: string[] = [];
  const sig: string[] = [];
  let inHeader = true;
  let inSig = false;
  for (const line of lines) {
    if (inHeader && line === '') inHeader = false;
    if (inHeader && line.startsWith('gpgsig ')) {
      inSig = true;
      sig.push(line.slice('gpgsig '.length));
      continue;
    }
    if (inHeader && inSig && line.startsWith(' ')) {
      sig.push(line.slice(1));
      continue;
    }
    inSig = false;
    out.push(line);
  }
  return sig.length === 0 ? { payload: raw } : { payload: out.join('\n'), signature: `${sig.join('\n')}\n` };
}

async function checkSsh(payload: string, signature: string, rule: TraceRule | undefined, keygen: string): Promise<CommitCheck> {
  const dir = await mkdtemp(path.join(tmpdir(), 'provenant-commit-'));
  try {
    const sigFile = path.join(dir, 'commit.sig');
    const allowed = path.join(dir, 'allowed_signers');
    await writeFile(sigFile, signature);
    const keys = rule?.sshKeys ?? [];
    await writeFile(allowed, keys.map((k) => `* ${k}\n`).join(''));
    if (keys.length > 0) {
      const ok = await run(keygen, ['-Y', 'verify', '-f', allowed, '-I', 'commit-signer', '-n', 'git', '-s', sigFile], { input: payload });
      if (ok.code === 0) {
        const fp = /key (SHA256:\S+)/.exec(ok.stdout + ok.stderr)?.[1];
        return { verdict: 'signed-commit', signer: `ssh ${fp ?? ''}`.trim() };
      }
    }
    // Intact under its own key? Then another key signed it; otherwise the commit or signature changed.
    const own = await run(keygen, ['-Y', 'check-novalidate', '-n', 'git', '-s', sigFile], { input: payload });
    return own.code === 0 ? { verdict: 'identity-mismatch', reason: 'VERIFY_KEY_MISMATCH' } : { verdict: 'invalid-signature', reason: 'VERIFY_SIGNATURE_INVALID' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The commit checker `traceImage` calls for each git link (undefined: no clone for that URL). */
export function createCommitChecker(deps: CommitCheckerDeps): (url: string, sha1: string, rule: TraceRule | undefined) => Promise<CommitCheck | undefined> {
  const git = deps.git ?? 'git';
  const keygen = deps.sshKeygen ?? 'ssh-keygen';
  return async (url, sha1, rule) => {
    const bare = normaliseGitUrl(url);
    const dir = deps.sources.get(bare) ?? (bare.startsWith('file://') ? fileURLToPath(bare) : undefined);
    if (dir === undefined) return undefined;
    const type = await run(git, ['-C', dir, 'cat-file', '-t', sha1]);
    if (type.code !== 0 || type.stdout.trim() !== 'commit') return { verdict: 'commit-not-found', reason: 'TRACE_COMMIT_NOT_FOUND' };
    const raw = await run(git, ['-C', dir, 'cat-file', 'commit', sha1]);
    const { payload, signature } = splitSignedCommit(raw.stdout);
    if (signature === undefined) return { verdict: 'unsigned-commit' };
    if (signature.startsWith('-----BEGIN SSH SIGNATURE-----')) return checkSsh(payload, signature, rule, keygen);
    if (signature.startsWith('-----BEGIN SIGNED MESSAGE-----')) return verifyGitsignSignature(payload, signature, sha1, rule, deps.rekorUrl);
    return { verdict: 'invalid-signature', reason: 'TRACE_COMMIT_SIGNATURE_UNSUPPORTED' };
  };
}
