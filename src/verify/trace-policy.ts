/**
 * The trust policy of `provenant trace --policy FILE`: which identities are accepted on which link.
 * Rules match image repositories (`registry/repo`) and git URLs by glob; the first matching rule
 * applies, else the default rule (built from the command's `--key` / `--certificate-*` flags, or the
 * file's `default:`). A rule lists the identities accepted there (keys, keyless subject + issuer with
 * optional Fulcio certificate extensions, SSH keys for commits) and what a provenance must say
 * (predicate types, builder ids). See docs/trace.md for the schema.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ProvenantError, errorMessage } from '../errors.js';
import type { VerificationPolicy } from './verify-bundle.js';

/** One accepted signer, with Fulcio certificate extension values it must carry (OID → exact or /regexp/). */
export interface TraceIdentity {
  readonly policy: VerificationPolicy;
  readonly extensions?: Readonly<Record<string, string | RegExp>>;
}

export interface TraceRule {
  readonly name: string;
  /** Globs over `registry/repo` (`*` = one path segment or part of it, `**` = anything). */
  readonly images: readonly string[];
  /** Globs over git URLs (`https://github.com/acme/*`), matched with and without `git+` and `.git`. */
  readonly git: readonly string[];
  readonly identities: readonly TraceIdentity[];
  /** OpenSSH public keys (`ssh-ed25519 AAAA…`) accepted as commit signers. */
  readonly sshKeys: readonly string[];
  /** When set, a provenance must have one of these predicate types. */
  readonly predicateTypes?: readonly string[];
  /** When set, a provenance must name one of these builder ids. */
  readonly builderIds?: readonly string[];
}

export interface TrustPolicy {
  readonly rules: readonly TraceRule[];
  readonly defaultRule?: TraceRule;
  /** `sha256:<hex>` of the policy file (or of the flags' canonical form): recorded in a VSA. */
  readonly digest: string;
  /** The trusted root of the file or of `--trusted-root` (names the Rekor log to search). */
  readonly trustedRoot?: unknown;
}

/** Fulcio certificate extension names (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md). */
export const fulcioExtensionOids: Readonly<Record<string, string>> = {
  issuer: '1.3.6.1.4.1.57264.1.8',
  githubWorkflowTrigger: '1.3.6.1.4.1.57264.1.2',
  githubWorkflowSha: '1.3.6.1.4.1.57264.1.3',
  githubWorkflowName: '1.3.6.1.4.1.57264.1.4',
  githubWorkflowRepository: '1.3.6.1.4.1.57264.1.5',
  githubWorkflowRef: '1.3.6.1.4.1.57264.1.6',
  buildSignerURI: '1.3.6.1.4.1.57264.1.9',
  buildSignerDigest: '1.3.6.1.4.1.57264.1.10',
  runnerEnvironment: '1.3.6.1.4.1.57264.1.11',
  sourceRepositoryURI: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  sourceRepositoryIdentifier: '1.3.6.1.4.1.57264.1.15',
  sourceRepositoryOwnerURI: '1.3.6.1.4.1.57264.1.16',
  sourceRepositoryOwnerIdentifier: '1.3.6.1.4.1.57264.1.17',
  buildConfigURI: '1.3.6.1.4.1.57264.1.18',
  buildConfigDigest: '1.3.6.1.4.1.57264.1.19',
  buildTrigger: '1.3.6.1.4.1.57264.1.20',
  runInvocationURI: '1.3.6.1.4.1.57264.1.21',
  sourceRepositoryVisibilityAtSigning: '1.3.6.1.4.1.57264.1.22',
};

const OID = /^1\.3\.6\.1\.4\.1\.57264\.1\.\d+$/;

/** A glob as a RegExp: `**` any characters, `*` any characters but `/`, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function gitForms(url: string): string[] {
  const bare = url.startsWith('git+') ? url.slice(4) : url;
  const noSuffix = bare.endsWith('.git') ? bare.slice(0, -4) : bare;
  return [url, bare, noSuffix];
}

/** The first transparency log the trusted root names (`tlogs[0].baseUrl`). */
export function trustedRootRekorUrl(trustedRoot: unknown): string | undefined {
  const tlogs = isObj(trustedRoot) ? trustedRoot['tlogs'] : undefined;
  const first = Array.isArray(tlogs) ? (tlogs[0] as unknown) : undefined;
  return isObj(first) && typeof first['baseUrl'] === 'string' && first['baseUrl'] !== '' ? first['baseUrl'] : undefined;
}

/** The rule for a link: first rule whose globs match, else the default rule. */
export function ruleFor(policy: TrustPolicy, kind: 'image' | 'git', ref: string): TraceRule | undefined {
  for (const rule of policy.rules) {
    if (kind === 'image') {
      const repo = ref.includes('@') ? ref.slice(0, ref.lastIndexOf('@')) : ref;
      if (rule.images.some((g) => globToRegExp(g).test(repo))) return rule;
    } else {
      const url = ref.replace(/@[a-f0-9]{40}$/, '');
      if (rule.git.some((g) => gitForms(url).some((u) => globToRegExp(g).test(u)))) return rule;
    }
  }
  return policy.defaultRule;
}

/** The policy today's flags mean: one default rule with their keys and keyless identity. */
export function flagsPolicy(policies: readonly VerificationPolicy[], trustedRoot?: unknown): TrustPolicy {
  const canonical = JSON.stringify(policies.map((p) => ('key' in p ? { key: p.key } : { san: String(p.identity.san), issuer: p.identity.issuer })));
  return {
    rules: [],
    defaultRule: { name: 'default', images: [], git: [], identities: policies.map((policy) => ({ policy })), sshKeys: [] },
    digest: `sha256:${createHash('sha256').update(canonical).digest('hex')}`,
    ...(trustedRoot === undefined ? {} : { trustedRoot }),
  };
}

type Raw = Record<string, unknown>;

function isObj(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string, problems: string[]): string[] {
  if (v === undefined) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  problems.push(`${where}: expected a string or a list of strings`);
  return [];
}

function regexp(source: string, where: string, problems: string[]): RegExp | undefined {
  try {
    return new RegExp(source);
  } catch {
    problems.push(`${where}: not a regular expression`);
    return undefined;
  }
}

interface LoadContext {
  readonly baseDir: string;
  readonly trustedRoot: unknown;
  readonly problems: string[];
}

async function keyPem(value: string, where: string, ctx: LoadContext): Promise<string | undefined> {
  if (value.includes('-----BEGIN')) return value;
  try {
    return await readFile(path.resolve(ctx.baseDir, value), 'utf8');
  } catch (err) {
    ctx.problems.push(`${where}: cannot read key file ${value}: ${errorMessage(err)}`);
    return undefined;
  }
}

async function parseIdentity(raw: unknown, where: string, ctx: LoadContext): Promise<{ identity?: TraceIdentity; ssh?: string }> {
  if (!isObj(raw)) {
    ctx.problems.push(`${where}: expected an object with key, keyless or ssh`);
    return {};
  }
  const known = ['key', 'keyless', 'ssh'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) ctx.problems.push(`${where}: unknown field ${k}`);
  if (typeof raw['key'] === 'string') {
    const pem = await keyPem(raw['key'], `${where}.key`, ctx);
    return pem === undefined ? {} : { identity: { policy: { key: pem, ...(ctx.trustedRoot === undefined ? {} : { trustedRoot: ctx.trustedRoot }) } } };
  }
  if (typeof raw['ssh'] === 'string') return { ssh: raw['ssh'].trim() };
  const k = raw['keyless'];
  if (!isObj(k)) {
    ctx.problems.push(`${where}: expected key, keyless or ssh`);
    return {};
  }
  for (const f of Object.keys(k)) if (!['subject', 'subjectRegExp', 'issuer', 'extensions'].includes(f)) ctx.problems.push(`${where}.keyless: unknown field ${f}`);
  const issuer = k['issuer'];
  if (typeof issuer !== 'string') ctx.problems.push(`${where}.keyless.issuer: required string`);
  let san: string | RegExp | undefined;
  if (typeof k['subject'] === 'string') san = k['subject'];
  else if (typeof k['subjectRegExp'] === 'string') san = regexp(k['subjectRegExp'], `${where}.keyless.subjectRegExp`, ctx.problems);
  else ctx.problems.push(`${where}.keyless: subject or subjectRegExp is required`);
  const extensions: Record<string, string | RegExp> = {};
  if (k['extensions'] !== undefined) {
    if (!isObj(k['extensions'])) ctx.problems.push(`${where}.keyless.extensions: expected a map of OID or name to value`);
    else {
      for (const [name, value] of Object.entries(k['extensions'])) {
        const oid = OID.test(name) ? name : fulcioExtensionOids[name];
        if (oid === undefined) ctx.problems.push(`${where}.keyless.extensions: ${name} is neither a 1.3.6.1.4.1.57264.1.* OID nor a known name`);
        else if (typeof value === 'string') extensions[oid] = value;
        else if (isObj(value) && typeof value['regexp'] === 'string') {
          const re = regexp(value['regexp'], `${where}.keyless.extensions.${name}`, ctx.problems);
          if (re !== undefined) extensions[oid] = re;
        } else ctx.problems.push(`${where}.keyless.extensions.${name}: expected a string or {regexp: …}`);
      }
    }
  }
  if (ctx.trustedRoot === undefined) ctx.problems.push(`${where}: keyless identities need a trusted root (trustedRoot: in the file, or --trusted-root)`);
  if (typeof issuer !== 'string' || san === undefined || ctx.trustedRoot === undefined) return {};
  return {
    identity: {
      policy: { identity: { san, issuer }, trustedRoot: ctx.trustedRoot },
      ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
    },
  };
}

async function parseRule(raw: unknown, where: string, ctx: LoadContext): Promise<TraceRule | undefined> {
  if (!isObj(raw)) {
    ctx.problems.push(`${where}: expected an object`);
    return undefined;
  }
  const known = ['name', 'images', 'git', 'identities', 'predicateTypes', 'builderIds'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) ctx.problems.push(`${where}: unknown field ${k}`);
  const identities: TraceIdentity[] = [];
  const sshKeys: string[] = [];
  const list = raw['identities'];
  if (!Array.isArray(list) || list.length === 0) ctx.problems.push(`${where}.identities: a non-empty list is required`);
  else {
    for (const [i, item] of list.entries()) {
      const { identity, ssh } = await parseIdentity(item, `${where}.identities[${i}]`, ctx);
      if (identity !== undefined) identities.push(identity);
      if (ssh !== undefined) sshKeys.push(ssh);
    }
  }
  const predicateTypes = raw['predicateTypes'] === undefined ? undefined : stringList(raw['predicateTypes'], `${where}.predicateTypes`, ctx.problems);
  const builderIds = raw['builderIds'] === undefined ? undefined : stringList(raw['builderIds'], `${where}.builderIds`, ctx.problems);
  return {
    name: typeof raw['name'] === 'string' ? raw['name'] : where,
    images: stringList(raw['images'], `${where}.images`, ctx.problems),
    git: stringList(raw['git'], `${where}.git`, ctx.problems),
    identities,
    sshKeys,
    ...(predicateTypes === undefined ? {} : { predicateTypes }),
    ...(builderIds === undefined ? {} : { builderIds }),
  };
}

/**
 * Parses a policy file's text. `baseDir` resolves key files; `trustedRoot` (from `--trusted-root`)
 * is used unless the file names its own. `flagsRule` (today's flags) becomes the default rule when the
 * file has none. Throws `input` `TRACE_POLICY_INVALID` listing every problem.
 */
export async function parseTrustPolicy(
  text: string,
  options: { readonly baseDir: string; readonly trustedRoot?: unknown; readonly flags?: readonly VerificationPolicy[] },
): Promise<TrustPolicy> {
  let doc: unknown;
  try {
    // yaml loads only when a policy file is read (verify and trace without --policy never need it).
    const { parse: parseYaml } = await import('yaml');
    doc = parseYaml(text);
  } catch (cause) {
    throw new ProvenantError('input', 'TRACE_POLICY_INVALID', `the policy file is not YAML: ${errorMessage(cause)}`, { cause });
  }
  const problems: string[] = [];
  if (!isObj(doc)) throw new ProvenantError('input', 'TRACE_POLICY_INVALID', 'the policy file must be a YAML mapping');
  for (const k of Object.keys(doc)) if (!['apiVersion', 'kind', 'trustedRoot', 'rules', 'default'].includes(k)) problems.push(`unknown field ${k}`);
  if (doc['apiVersion'] !== undefined && doc['apiVersion'] !== 'provenant.dev/v1alpha1') problems.push('apiVersion: must be provenant.dev/v1alpha1');
  if (doc['kind'] !== undefined && doc['kind'] !== 'TracePolicy') problems.push('kind: must be TracePolicy');
  let trustedRoot = options.trustedRoot;
  if (typeof doc['trustedRoot'] === 'string') {
    try {
      trustedRoot = JSON.parse(await readFile(path.resolve(options.baseDir, doc['trustedRoot']), 'utf8')) as unknown;
    } catch (err) {
      problems.push(`trustedRoot: cannot read ${doc['trustedRoot']}: ${errorMessage(err)}`);
    }
  }
  const ctx: LoadContext = { baseDir: options.baseDir, trustedRoot, problems };
  const rules: TraceRule[] = [];
  if (!Array.isArray(doc['rules'])) problems.push('rules: a list is required');
  else {
    for (const [i, raw] of doc['rules'].entries()) {
      const rule = await parseRule(raw, `rules[${i}]`, ctx);
      if (rule === undefined) continue;
      if (rule.images.length === 0 && rule.git.length === 0) problems.push(`rules[${i}]: images or git globs are required`);
      rules.push(rule);
    }
  }
  let defaultRule: TraceRule | undefined;
  if (doc['default'] !== undefined) defaultRule = await parseRule({ name: 'default', ...(isObj(doc['default']) ? doc['default'] : {}) }, 'default', ctx);
  else if (options.flags !== undefined && options.flags.length > 0) defaultRule = flagsPolicy(options.flags).defaultRule;
  if (problems.length > 0) {
    throw new ProvenantError('input', 'TRACE_POLICY_INVALID', `invalid trace policy:\n  ${problems.join('\n  ')}`, { context: { problems } });
  }
  return {
    rules,
    ...(defaultRule === undefined ? {} : { defaultRule }),
    digest: `sha256:${createHash('sha256').update(text).digest('hex')}`,
    ...(trustedRoot === undefined ? {} : { trustedRoot }),
  };
}
