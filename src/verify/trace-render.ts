/** Text tree and Graphviz DOT renderings of a trace graph. */
import type { SignatureVerdict, TraceEdge, TraceGraph, TraceNode, TraceVerdict } from './trace.js';

export const verdictLabels: Readonly<Record<TraceVerdict, { readonly symbol: string; readonly text: string; readonly color: string }>> = {
  verified: { symbol: '✔', text: 'verified', color: '#2e7d32' },
  'invalid-signature': { symbol: '✘', text: 'invalid signature', color: '#c62828' },
  'identity-mismatch': { symbol: '!', text: 'identity mismatch', color: '#e65100' },
  unsigned: { symbol: '?', text: 'unsigned', color: '#757575' },
  'not-found': { symbol: '∅', text: 'not found', color: '#5d4037' },
  unreachable: { symbol: '⚠', text: 'unreachable', color: '#6a1b9a' },
  'policy-violation': { symbol: '≠', text: 'policy violation', color: '#ad1457' },
  'signed-commit': { symbol: '✔', text: 'signed commit', color: '#2e7d32' },
  'unsigned-commit': { symbol: '?', text: 'unsigned commit', color: '#757575' },
  'commit-not-found': { symbol: '∅', text: 'commit not found', color: '#5d4037' },
};

/** Image-signature verdicts, shown next to the provenance verdict. */
export const signatureLabels: Readonly<Record<SignatureVerdict, string>> = {
  verified: 'signature ✔',
  unsigned: 'no signature',
  'invalid-signature': 'signature ✘',
  'identity-mismatch': 'signature !',
};

export const kindLabels = {
  git: { symbol: '⎇', text: 'source', color: '#1565c0' },
  artifact: { symbol: '•', text: 'artifact', color: '#455a64' },
  workload: { symbol: '☸', text: 'workload', color: '#00695c' },
} as const;

/** `✔ verified`, `⎇ source`, … for one node. */
export function nodeStatus(node: TraceNode): { symbol: string; text: string; color: string } {
  if (node.kind === 'git' && node.verdict !== undefined) return verdictLabels[node.verdict];
  if (node.kind !== 'image') return kindLabels[node.kind];
  return verdictLabels[node.verdict ?? 'unsigned'];
}

function childrenOf(graph: TraceGraph): Map<string, TraceEdge[]> {
  const out = new Map<string, TraceEdge[]>();
  for (const e of graph.edges) {
    const list = out.get(e.from) ?? [];
    list.push(e);
    out.set(e.from, list);
  }
  return out;
}

/** `signature ✔ by … [registry]` for an image node that was inspected. */
export function signatureText(node: TraceNode): string | undefined {
  const sig = node.signature;
  if (sig === undefined) return undefined;
  let text = signatureLabels[sig.verdict];
  if (sig.reason !== undefined) text += ` (${sig.reason})`;
  if (sig.verdict === 'verified' && sig.signer !== undefined && sig.signer !== node.signer) text += ` by ${sig.signer}`;
  if (sig.source !== undefined && sig.verdict !== 'unsigned') text += ` [${sig.source}]`;
  return text;
}

function statusText(node: TraceNode): string {
  const s = nodeStatus(node);
  let text = `${s.symbol} ${s.text}`;
  const quiet = node.verdict === 'verified' || node.verdict === 'unsigned' || node.verdict === 'signed-commit' || node.verdict === 'unsigned-commit';
  if (node.reason !== undefined && !quiet) text += ` (${node.reason})`;
  if ((node.verdict === 'verified' || node.verdict === 'signed-commit') && node.signer !== undefined) text += ` by ${node.signer}`;
  if (node.source !== undefined && node.verdict !== 'unsigned' && node.kind === 'image') text += ` [${node.source}]`;
  if (node.rule !== undefined) text += ` {rule ${node.rule}}`;
  if (node.platform !== undefined) text += ` (${node.platform})`;
  const sig = signatureText(node);
  if (sig !== undefined) text += `; ${sig}`;
  return text;
}

/** Counts of image verdicts and leaf kinds. */
export function traceSummary(graph: TraceGraph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of graph.nodes) {
    const key = n.kind === 'image' ? (n.verdict ?? 'unsigned') : n.kind === 'git' && n.verdict !== undefined ? n.verdict : n.kind;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The tree on stdout: each link with its verdict; a node reached twice is shown once, then referenced. */
export function renderTraceText(graph: TraceGraph): string {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const children = childrenOf(graph);
  const printed = new Set<string>();
  const lines: string[] = [];
  const walk = (id: string, prefix: string, connector: string, relation: string): void => {
    const node = byId.get(id);
    if (node === undefined) return;
    const head = `${prefix}${connector}${relation === '' ? '' : `${relation}: `}${node.ref}  `;
    if (printed.has(id)) {
      lines.push(`${head}${statusText(node)} ↺ (shown above)`);
      return;
    }
    printed.add(id);
    lines.push(`${head}${statusText(node)}${node.truncated === true ? ' … (depth limit)' : ''}`);
    const kids = children.get(id) ?? [];
    const childPrefix = prefix + (connector === '' ? '' : connector === '└─ ' ? '   ' : '│  ');
    kids.forEach((e, i) => walk(e.to, childPrefix, i === kids.length - 1 ? '└─ ' : '├─ ', e.label === undefined ? e.relation : `${e.relation} ${e.label}`));
  };
  walk(graph.root, '', '', '');
  const counts = traceSummary(graph);
  const parts = Object.entries(counts).map(([k, n]) => `${n} ${k}`);
  lines.push('', `${graph.nodes.length} links (max depth ${graph.maxDepth}): ${parts.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

/** Graphviz DOT: left to right, one box per link, filled by verdict. */
export function renderTraceDot(graph: TraceGraph): string {
  const lines = [
    'digraph provenant_trace {',
    '  rankdir=LR;',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9, color="#607d8b"];',
  ];
  for (const n of graph.nodes) {
    const s = nodeStatus(n);
    const sig = signatureText(n);
    const label = `${n.ref}\n${s.symbol} ${s.text}${n.reason !== undefined && n.verdict !== 'verified' ? ` (${n.reason})` : ''}${n.source === undefined ? '' : ` [${n.source}]`}${sig === undefined ? '' : `\n${sig}`}`;
    const attrs = [`label=${dotString(label)}`, `fillcolor=${dotString(`${s.color}33`)}`, `color=${dotString(s.color)}`];
    if (n.id === graph.root) attrs.push('penwidth=2');
    if (n.kind !== 'image') attrs.push('shape=note');
    lines.push(`  ${dotString(n.id)} [${attrs.join(', ')}];`);
  }
  for (const e of graph.edges) {
    const style = e.relation === 'resolvedDependency' ? ', style=dashed' : e.relation === 'base-image' ? ', style=bold' : e.relation === 'platform' ? ', style=dotted' : '';
    lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)} [label=${dotString(e.label === undefined ? e.relation : `${e.relation} ${e.label}`)}${style}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
