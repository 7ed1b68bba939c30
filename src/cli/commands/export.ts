import path from 'node:path';
import { ProvenantError } from '../../errors.js';
import { exportEvidence, renderTraceText } from '../../verify/index.js';
import { parseCommandArgs, usageError } from '../args.js';
import type { CliCommand } from '../io.js';
import { runTrace, traceArgs } from './trace.js';

const help = `usage: provenant export IMAGE@sha256:DIGEST | pod/NAME | deployment/NAME | namespace/NAME --out DIR
         (trust flags as for 'provenant trace': --key, --certificate-*, --trusted-root, --policy, …)

Traces the image (or workload) like 'provenant trace', then writes every attestation and image signature
found for each image of the graph (registry, and Rekor entries with their log proof), and each image
manifest, to DIR:
  DIR/sha256-<hex>/<id>.bundle.json   Sigstore bundle (DSSE attestation or message signature)
  DIR/sha256-<hex>/<id>.payload.json  the signed payload
  DIR/manifests/sha256-<hex>.json     the image manifest, exact bytes
'provenant trace … --attestations DIR' then traces the same graph without network access.
Exit codes: 0 exported, 2 usage or input error (the verdicts do not change the exit code).
`;

export const exportCommand: CliCommand = {
  name: 'export',
  summary: 'write every attestation, signature and manifest of a trace graph to a directory (for offline trace)',
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('export', argv, { ...traceArgs, out: { type: 'string' } });
    if (values.help) {
      io.stdout(help);
      return 0;
    }
    if (positionals.length !== 1) throw usageError('export', 'exactly one IMAGE@sha256:DIGEST or workload is required');
    if (values.out === undefined) throw usageError('export', '--out DIR is required');
    if (values.attestations !== undefined) throw new ProvenantError('input', 'USAGE', 'export reads the registry: --attestations is not allowed');
    const { graph, reader, manifests, evidence, close } = await runTrace(positionals[0]!, values, io, 'export');
    const out = path.resolve(io.cwd, values.out);
    const written = await exportEvidence(graph, { reader, evidence, manifests, out }).finally(close);
    io.stderr(renderTraceText(graph));
    io.stdout(`exported ${written.bundles} bundles and ${written.manifests} manifests to ${out}\n`);
    return 0;
  },
};
