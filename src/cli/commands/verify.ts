import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ProvenantError } from '../../errors.js';
import { verifyBundle, type VerificationPolicy, type VerifiedArtifact } from '../../verify/index.js';
import { readDocument, type CliCommand, type CliIo } from '../io.js';

const help = `usage: provenant verify --bundle FILE
         (--key PEM_FILE | --certificate-identity SAN --certificate-oidc-issuer URL --trusted-root FILE)
         [--trusted-root FILE] [--require-tlog] [--artifact FILE]

Verifies a Sigstore bundle and prints what was verified: subjects, predicate type, signer identity.
  --bundle FILE                    Sigstore bundle JSON ('-' = stdin)
  --key PEM_FILE                   public key the bundle must be signed with
  --certificate-identity SAN       keyless: expected certificate SAN (e.g. https://kubernetes.io/namespaces/NS/serviceaccounts/SA)
  --certificate-oidc-issuer URL    keyless: expected OIDC issuer
  --trusted-root FILE              trusted_root.json (Fulcio CA, Rekor and CT keys); needed for keyless and --require-tlog
  --require-tlog                   reject bundles without a verified transparency log entry
  --artifact FILE                  the signed bytes, for message-signature bundles
Exit codes: 0 verified, 1 rejected (reason on stderr), 2 usage or input error.
`;

function usageError(message: string): ProvenantError {
  return new ProvenantError('input', 'USAGE', message, { context: { hint: "see 'provenant verify --help'" } });
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read ${what} ${file}`, { cause });
  }
}

export interface BundleSourceOptions {
  readonly bundle?: string | undefined;
}

/**
 * Where the bundles to verify come from. Today: `--bundle FILE`. The storage readers add
 * `--image REF@DIGEST` (OCI referrers / .att) and `--taskrun NAME` (annotations) here.
 */
export async function loadBundles(options: BundleSourceOptions, io: CliIo): Promise<unknown[]> {
  if (options.bundle !== undefined) return [await readDocument(options.bundle, io)];
  throw usageError('--bundle is required');
}

export function formatVerified(v: VerifiedArtifact): string {
  const lines = ['Verified OK'];
  if ('publicKey' in v.signer) lines.push('  signer: public key');
  else lines.push(`  signer: ${v.signer.san}`, `  issuer: ${v.signer.issuer ?? '(none)'}`);
  if (v.payloadType !== undefined) lines.push(`  payload type: ${v.payloadType}`);
  if (v.predicateType !== undefined) lines.push(`  predicate type: ${v.predicateType}`);
  for (const s of v.subjects) {
    const digests = Object.entries(s.digest).map(([alg, hex]) => `${alg}:${hex}`);
    lines.push(`  subject: ${s.name} ${digests.join(' ')}`);
  }
  if (v.tlog !== undefined) lines.push(`  tlog: logIndex ${v.tlog.logIndex}, integrated ${new Date(Number(v.tlog.integratedTime) * 1000).toISOString()}`);
  return `${lines.join('\n')}\n`;
}

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 'verify a Sigstore bundle against a key or a keyless identity',
  run: async (argv, io) => {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: false,
        options: {
          bundle: { type: 'string' },
          key: { type: 'string' },
          'certificate-identity': { type: 'string' },
          'certificate-oidc-issuer': { type: 'string' },
          'trusted-root': { type: 'string' },
          'require-tlog': { type: 'boolean' },
          artifact: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (err) {
      throw usageError((err as Error).message);
    }
    const { values } = parsed;
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    const identity = values['certificate-identity'];
    const issuer = values['certificate-oidc-issuer'];
    const requireTlog = values['require-tlog'] ?? false;
    const trustedRoot = values['trusted-root'] === undefined ? undefined : await readDocument(values['trusted-root'], io);
    let policy: VerificationPolicy;
    if (values.key !== undefined) {
      if (identity !== undefined || issuer !== undefined) throw usageError('use either --key or --certificate-identity/--certificate-oidc-issuer');
      const key = await readText(values.key, 'key');
      policy = { key, requireTlog, ...(trustedRoot === undefined ? {} : { trustedRoot }) };
    } else {
      if (identity === undefined || issuer === undefined) throw usageError('--key, or --certificate-identity with --certificate-oidc-issuer, is required');
      if (trustedRoot === undefined) throw usageError('keyless verification needs --trusted-root');
      policy = { identity: { san: identity, issuer }, trustedRoot, requireTlog };
    }
    const artifact = values.artifact === undefined ? undefined : await readFile(values.artifact).catch((cause: unknown) => {
      throw new ProvenantError('input', 'INPUT_UNREADABLE', `cannot read artifact ${values.artifact ?? ''}`, { cause });
    });
    for (const bundle of await loadBundles({ bundle: values.bundle }, io)) {
      // A rejection throws a `permanent` ProvenantError: runCli prints its code and exits 1.
      io.stdout(formatVerified(verifyBundle(bundle, policy, artifact === undefined ? {} : { artifact })));
    }
    return 0;
  },
};
