/** Text tree and Graphviz DOT renderings of a trace graph. */
import type { TraceEdge, TraceGraph, TraceNode, TraceVerdict } from './trace.js';

export const verdictLabels: Readonly<Record<TraceVerdict, { readonly symbol: string; readonly text: string; readonly color: string }>> = {
  verified: { symbol: '✔', text: 'verified', color: '#2e7d32' },
  'invalid-signature': { symbol: '✘', text: 'invalid signature', color: '#c62828' },
  'identity-mismatch': { symbol: '!', text: 'identity mismatch', color: '#e65100' },
  unsigned: { symbol: '?', text: 'unsigned', color: '#757575' },
  'not-found': { symbol: '∅', text: 'not found', color: '#5d4037' },
  unreachable: { symbol: '⚠', text: 'unreachable', color: '#6a1b9a' },
};

export const kindLabels = {
  git: { symbol: '⎇', text: 'source', color: '#1565c0' },
  artifact: { symbol: '•', text: 'artifact', color: '#455a64' },
} as const;

/** `✔ verified`, `⎇ source`, … for one node. */
export function nodeStatus(node: TraceNode): { symbol: string; text: string; color: string } {
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

function statusText(node: TraceNode): string {
  const s = nodeStatus(node);
  let text = `${s.symbol} ${s.text}`;
  if (node.reason !== undefined && node.verdict !== 'verified' && node.verdict !== 'unsigned') text += ` (${node.reason})`;
  if (node.verdict === 'verified' && node.signer !== undefined) text += ` by ${node.signer}`;
  return text;
}

/** Counts of image verdicts and leaf kinds. */
export function traceSummary(graph: TraceGraph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of graph.nodes) {
    const key = n.kind === 'image' ? (n.verdict ?? 'unsigned') : n.kind;
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
    kids.forEach((e, i) => walk(e.to, childPrefix, i === kids.length - 1 ? '└─ ' : '├─ ', e.relation));
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
    const label = `${n.ref}\n${s.symbol} ${s.text}${n.reason !== undefined && n.verdict !== 'verified' ? ` (${n.reason})` : ''}`;
    const attrs = [`label=${dotString(label)}`, `fillcolor=${dotString(`${s.color}33`)}`, `color=${dotString(s.color)}`];
    if (n.id === graph.root) attrs.push('penwidth=2');
    if (n.kind !== 'image') attrs.push('shape=note');
    lines.push(`  ${dotString(n.id)} [${attrs.join(', ')}];`);
  }
  for (const e of graph.edges) {
    lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)} [label=${dotString(e.relation)}${e.relation === 'resolvedDependency' ? ', style=dashed' : ''}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
