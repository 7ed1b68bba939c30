import { createHash, createPublicKey } from 'node:crypto';
import type { ProvenantError } from '../../errors.js';
import { createRekorReader, type RekorLogEntry, type RekorVerifier } from '../../transparency/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import { readDocument, type CliCommand, type CliIo } from '../io.js';

const help = `usage: provenant rekor search --digest sha256:HEX --trusted-root FILE [--rekor-url URL] [-o table|json]
       provenant rekor get UUID|--log-index N --trusted-root FILE [--rekor-url URL] [-o table|json]

Reads a Rekor v1 transparency log. Every entry shown has been verified against the trusted root:
signed entry timestamp, RFC 6962 inclusion proof and the log's signed checkpoint.
  search             entries indexed under an artifact digest (an image, a subject of a statement,
                     a signed payload): type, integrated time, signer identity
  get                one entry by UUID (64 or 80 hex) or log index, decoded; the in-toto statement is
                     printed when the entry keeps it (intoto entries)
  --digest D         sha256:<hex> (a bare 64-hex value is taken as sha256)
  --log-index N      the entry's log index
  --trusted-root F   trusted_root.json holding the log's public key (required)
  --rekor-url URL    default: the only tlog of the trusted root, else https://rekor.sigstore.dev
  -o, --output F     table (default) or json
Rekor v2 logs have no search index: find v2 entries through the registry (provenant verify --image).
Exit codes: 0 shown (search: also when nothing is found), 1 rejected or failed, 2 usage error.
`;

const usage = (message: string): ProvenantError => usageError('rekor', message);

function keyFingerprint(pem: string): string {
  try {
    const der = createPublicKey(pem).export({ format: 'der', type: 'spki' });
    return `sha256:${createHash('sha256').update(der).digest('hex')}`;
  } catch {
    return 'unparsable key';
  }
}

function signerOf(v: RekorVerifier | undefined): string {
  if (v === undefined) return '-';
  if (v.type === 'certificate') return `${v.san ?? '?'}${v.issuer === undefined ? '' : ` (${v.issuer})`}`;
  return `key ${keyFingerprint(v.pem)}`;
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** The JSON view: the entry without its bundle form, the statement kept as an object. */
function jsonView(e: RekorLogEntry): Record<string, unknown> {
  const { bundleEntry: _bundleEntry, ...rest } = e;
  return { ...rest, integratedAt: isoTime(e.integratedTime) };
}

function searchTable(entries: readonly RekorLogEntry[]): string {
  const rows = entries.map((e) => [e.uuid, `${e.kind}:${e.apiVersion}`, String(e.logIndex), isoTime(e.integratedTime), e.verifiers.map(signerOf).join(', ') || '-']);
  const head = ['UUID', 'TYPE', 'INDEX', 'INTEGRATED', 'SIGNER'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

function entryText(e: RekorLogEntry): string {
  const lines = [
    `UUID:        ${e.uuid}`,
    `Entry ID:    ${e.entryId}`,
    `Type:        ${e.kind} ${e.apiVersion}`,
    `Log index:   ${e.logIndex}`,
    `Integrated:  ${isoTime(e.integratedTime)}`,
    `Log ID:      ${e.logId}`,
    'Verified:    signed entry timestamp, inclusion proof, signed checkpoint',
    ...e.verifiers.map((v, i) => `Signer${e.verifiers.length > 1 ? ` #${i + 1}` : ''}:      ${signerOf(v)}`),
    ...e.digests.map((d) => `Digest:      ${d}`),
  ];
  if (e.signature !== undefined) lines.push(`Signature:   ${e.signature.content}`);
  if (e.envelope !== undefined) lines.push(`Envelope:    ${e.envelope.payloadType}, ${e.envelope.signatures.length} signature(s)`);
  if (e.statement !== undefined) lines.push('Statement:', JSON.stringify(e.statement, null, 2));
  else if (e.kind === 'dsse') lines.push('Statement:   not kept by dsse entries (find the attestation in the registry, or log with transparency.entry-type: intoto)');
  return `${lines.join('\n')}\n`;
}

function defaultRekorUrl(trustedRoot: unknown, io: CliIo): string {
  const tlogs = (trustedRoot as { tlogs?: { baseUrl?: unknown }[] } | null)?.tlogs ?? [];
  const only = tlogs.length === 1 ? tlogs[0]?.baseUrl : undefined;
  return typeof only === 'string' ? only : (io.env['PROVENANT_REKOR_URL'] ?? 'https://rekor.sigstore.dev');
}

export const rekorCommand: CliCommand = {
  name: 'rekor',
  summary: 'search a Rekor log by artifact digest, or get one entry, verified against the trusted root',
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('rekor', argv, {
      digest: { type: 'string' },
      'log-index': { type: 'string' },
      'trusted-root': { type: 'string' },
      'rekor-url': { type: 'string' },
      output: { type: 'string', short: 'o' },
    });
    if (values.help === true || positionals.length === 0) {
      io.stdout(help);
      return positionals.length === 0 && values.help !== true ? 2 : 0;
    }
    const [sub, ...rest] = positionals;
    const output = values.output ?? 'table';
    if (output !== 'table' && output !== 'json') throw usage('-o must be table or json');
    if (values['trusted-root'] === undefined) throw usage('--trusted-root is required: entries are verified against the log key it holds');
    const trustedRoot = await readDocument(values['trusted-root'], io);
    const reader = createRekorReader({ baseUrl: values['rekor-url'] ?? defaultRekorUrl(trustedRoot, io), trustedRoot });

    if (sub === 'search') {
      if (rest.length > 0) throw usage(`unexpected argument ${rest[0] ?? ''}`);
      if (values.digest === undefined) throw usage('rekor search needs --digest sha256:HEX');
      const entries = await reader.searchByDigest(values.digest);
      if (output === 'json') io.stdout(`${JSON.stringify(entries.map(jsonView), null, 2)}\n`);
      else if (entries.length === 0) io.stderr(`provenant rekor: no entries indexed under ${values.digest}\n`);
      else io.stdout(searchTable(entries));
      return 0;
    }
    if (sub === 'get') {
      const index = values['log-index'];
      if ((rest.length === 1) === (index !== undefined) || rest.length > 1) throw usage('rekor get takes a UUID or --log-index N (one of them)');
      if (index !== undefined && !/^\d+$/.test(index)) throw usage('--log-index must be a non-negative integer');
      const entry = await reader.getEntry(index === undefined ? (rest[0] as string) : Number(index));
      io.stdout(output === 'json' ? `${JSON.stringify(jsonView(entry), null, 2)}\n` : entryText(entry));
      return 0;
    }
    throw usage(`unknown subcommand ${sub ?? ''}: use search or get`);
  },
};
