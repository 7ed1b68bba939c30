/**
 * A self-contained HTML page for a trace graph: inline SVG laid out here (columns by depth, rows ordered
 * by the parents' positions to keep edges short), a legend with counts and a details panel. No external
 * script, style, font or image; every string from a statement is escaped, since statements are input.
 */
import type { TraceGraph, TraceNode } from './trace.js';
import { kindLabels, nodeStatus, signatureText, traceSummary, verdictLabels } from './trace-render.js';

const NODE_W = 330;
const NODE_H = 58;
const COL_GAP = 110;
const ROW_GAP = 18;
const MARGIN = 24;
const CHARS = 44; // monospace 12px in a 330px box

export interface TraceLayout {
  readonly width: number;
  readonly height: number;
  readonly positions: ReadonlyMap<string, { readonly x: number; readonly y: number }>;
}

/** Columns by depth; inside a column, nodes sorted by the mean row of their parents (barycenter). */
export function layoutTrace(graph: TraceGraph): TraceLayout {
  const columns = new Map<number, TraceNode[]>();
  for (const n of graph.nodes) {
    const col = columns.get(n.depth) ?? [];
    col.push(n);
    columns.set(n.depth, col);
  }
  const parents = new Map<string, string[]>();
  for (const e of graph.edges) parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);
  const row = new Map<string, number>();
  const depths = [...columns.keys()].sort((a, b) => a - b);
  let maxRows = 0;
  for (const d of depths) {
    const col = columns.get(d)!;
    const score = (n: TraceNode): number => {
      const rows = (parents.get(n.id) ?? []).map((p) => row.get(p)).filter((r): r is number => r !== undefined);
      return rows.length === 0 ? 0 : rows.reduce((a, b) => a + b, 0) / rows.length;
    };
    const order = col.map((n, i) => ({ n, i, s: score(n) })).sort((a, b) => a.s - b.s || a.i - b.i);
    order.forEach(({ n }, i) => row.set(n.id, i));
    maxRows = Math.max(maxRows, col.length);
  }
  const positions = new Map<string, { x: number; y: number }>();
  const height = MARGIN * 2 + maxRows * NODE_H + Math.max(0, maxRows - 1) * ROW_GAP;
  for (const d of depths) {
    const col = columns.get(d)!;
    const colHeight = col.length * NODE_H + (col.length - 1) * ROW_GAP;
    const top = (height - colHeight) / 2;
    for (const n of col) positions.set(n.id, { x: MARGIN + d * (NODE_W + COL_GAP), y: top + row.get(n.id)! * (NODE_H + ROW_GAP) });
  }
  // Extra room on the right for same-column brackets in the last column.
  const width = MARGIN * 2 + 80 + depths.length * NODE_W + Math.max(0, depths.length - 1) * COL_GAP;
  return { width, height, positions };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function clip(s: string, n = CHARS): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Name and digest lines of a node box. */
function nodeLines(n: TraceNode): [string, string] {
  const at = n.ref.lastIndexOf('@');
  if (at < 0) return [n.ref, ''];
  const digest = n.ref.slice(at + 1);
  return [n.ref.slice(0, at), digest.length > 23 ? `${digest.slice(0, 23)}…` : digest];
}

const signatureBadges = { verified: 'sig ✔', unsigned: '', 'invalid-signature': 'sig ✘', 'identity-mismatch': 'sig !' } as const;

function nodeSvg(n: TraceNode, pos: { x: number; y: number }, isRoot: boolean): string {
  const s = nodeStatus(n);
  const [name, digest] = nodeLines(n);
  const sig = signatureText(n);
  const title = `${n.ref}\n${s.symbol} ${s.text}${n.reason !== undefined ? ` (${n.reason})` : ''}${n.source === undefined ? '' : ` [${n.source}]`}${sig === undefined ? '' : `\n${sig}`}`;
  return [
    `<g class="node${isRoot ? ' root' : ''}" data-id="${esc(n.id)}" data-kind="${n.kind}" data-verdict="${esc(n.verdict ?? n.kind)}" tabindex="0" transform="translate(${pos.x},${pos.y})">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${NODE_W}" height="${NODE_H}" rx="8" fill="${s.color}1f" stroke="${s.color}" stroke-width="${isRoot ? 3 : 1.5}"/>`,
    `<rect width="6" height="${NODE_H}" rx="3" fill="${s.color}"/>`,
    `<text class="name" x="14" y="18">${esc(clip(name))}</text>`,
    `<text class="digest" x="14" y="34">${esc(digest)}</text>`,
    `<text class="verdict" x="14" y="50" fill="${s.color}">${esc(`${s.symbol} ${s.text}`)}</text>`,
    n.signature === undefined || n.signature.verdict === 'unsigned'
      ? ''
      : `<text class="signature" data-signature="${n.signature.verdict}" x="${NODE_W - 10}" y="50" text-anchor="end">${esc(signatureBadges[n.signature.verdict])}</text>`,
    '</g>',
  ].join('');
}

function edgeSvg(from: { x: number; y: number }, to: { x: number; y: number }, relation: string): string {
  const x1 = from.x + NODE_W;
  const y1 = from.y + NODE_H / 2;
  let d: string;
  if (to.x > from.x) {
    const x2 = to.x;
    const y2 = to.y + NODE_H / 2;
    const mx = (x1 + x2) / 2;
    d = `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 4},${y2}`;
  } else if (to.x === from.x) {
    // Same column (a node also reached by a shorter path): a bracket on the right side.
    const y2 = to.y + NODE_H / 2;
    const out = x1 + 36 + Math.min(60, Math.abs(y2 - y1) / 4);
    d = `M${x1},${y1} C${out},${y1} ${out},${y2} ${x1 + 4},${y2}`;
  } else {
    // A link back to an earlier column (a cycle): loop over the top of the boxes.
    const x2 = to.x + NODE_W / 2;
    const y2 = to.y;
    const lift = Math.min(from.y, to.y) - 14;
    d = `M${x1},${y1} C${x1 + 60},${y1} ${x1 + 60},${lift} ${(x1 + x2) / 2},${lift} S${x2},${lift} ${x2},${y2 - 4}`;
  }
  return `<path class="edge ${esc(relation)}" d="${d}" marker-end="url(#arrow)"><title>${esc(relation)}</title></path>`;
}

const style = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1c2430;background:#f7f9fb}
header{padding:16px 24px;background:#fff;border-bottom:1px solid #dde3ea}
h1{font-size:18px;margin:0 0 4px}
.root-ref{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#445;word-break:break-all}
.result{display:inline-block;margin-top:8px;padding:2px 10px;border-radius:12px;font-weight:600;font-size:13px}
.result.ok{background:#e8f5e9;color:#2e7d32}.result.fail{background:#ffebee;color:#c62828}
main{display:flex;gap:16px;padding:16px 24px;align-items:flex-start}
.canvas{flex:1;overflow:auto;background:#fff;border:1px solid #dde3ea;border-radius:8px}
aside{width:320px;flex:none;display:flex;flex-direction:column;gap:16px}
.panel{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:12px 14px;font-size:13px}
.panel h2{font-size:14px;margin:0 0 8px}
.legend li{list-style:none;display:flex;align-items:center;gap:8px;margin:4px 0}
.legend ul{padding:0;margin:0}.swatch{width:14px;height:14px;border-radius:3px;display:inline-block}
.legend .count{margin-left:auto;font-variant-numeric:tabular-nums;color:#556}
dl{margin:0}dt{font-weight:600;margin-top:6px;color:#445}dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
svg text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
svg text.name{font-weight:600;fill:#1c2430}svg text.digest{fill:#556;font-size:11px}svg text.verdict{font-weight:600}
.node{cursor:pointer}.node:hover rect:first-of-type,.node.selected rect:first-of-type{stroke-width:3}
.edge{fill:none;stroke:#90a4ae;stroke-width:1.5}.edge.resolvedDependency{stroke-dasharray:5 4}.edge.base-image{stroke:#37474f;stroke-width:2.5}.edge.platform{stroke-dasharray:2 3}
.hint{color:#667;font-size:12px}
`;

const script = `
(function(){
  var data = JSON.parse(document.getElementById('trace-data').textContent);
  var byId = {}; data.nodes.forEach(function(n){ byId[n.id] = n; });
  var panel = document.getElementById('details');
  var fields = [['ref','Reference'],['kind','Kind'],['verdict','Verdict'],['reason','Reason'],['signer','Signer'],['builder','Builder'],['buildType','Build type'],['predicateType','Predicate type'],['attestations','Attestations found'],['source','Evidence from'],['rule','Policy rule'],['platform','Platform'],['signatureText','Image signature'],['depth','Depth'],['truncated','Materials beyond depth limit']];
  function show(id){
    var n = byId[id]; if(!n) return;
    document.querySelectorAll('.node.selected').forEach(function(e){ e.classList.remove('selected'); });
    var el = document.querySelector('.node[data-id="' + CSS.escape(id) + '"]'); if (el) el.classList.add('selected');
    var dl = document.createElement('dl');
    fields.forEach(function(f){
      if (n[f[0]] === undefined) return;
      var dt = document.createElement('dt'); dt.textContent = f[1];
      var dd = document.createElement('dd'); dd.textContent = String(n[f[0]]);
      dl.appendChild(dt); dl.appendChild(dd);
    });
    var links = data.edges.filter(function(e){ return e.from === id; });
    if (links.length) {
      var dt = document.createElement('dt'); dt.textContent = 'Links'; dl.appendChild(dt);
      links.forEach(function(e){ var dd = document.createElement('dd'); dd.textContent = e.relation + (e.label ? ' ' + e.label : '') + ' → ' + (byId[e.to] ? byId[e.to].ref : e.to); dl.appendChild(dd); });
    }
    panel.replaceChildren(dl);
  }
  document.querySelectorAll('.node').forEach(function(el){
    el.addEventListener('click', function(){ show(el.getAttribute('data-id')); });
    el.addEventListener('keydown', function(ev){ if (ev.key === 'Enter') show(el.getAttribute('data-id')); });
  });
  show(data.root);
})();
`;

/** The HTML page: header with the overall result, the graph, a legend with counts, a details panel. */
export function renderTraceHtml(graph: TraceGraph, options: { readonly ok: boolean; readonly generatedAt?: string } = { ok: false }): string {
  const layout = layoutTrace(graph);
  const pos = (id: string): { x: number; y: number } => layout.positions.get(id) ?? { x: 0, y: 0 };
  const edges = graph.edges.map((e) => edgeSvg(pos(e.from), pos(e.to), e.relation)).join('\n');
  const nodes = graph.nodes.map((n) => nodeSvg(n, pos(n.id), n.id === graph.root)).join('\n');
  const counts = traceSummary(graph);
  const legendRows = [
    ...Object.entries(verdictLabels).map(([k, v]) => ({ key: k, ...v })),
    ...Object.entries(kindLabels).map(([k, v]) => ({ key: k, ...v })),
  ]
    .map(
      (r) =>
        `<li data-legend="${r.key}"><span class="swatch" style="background:${r.color}"></span>${esc(`${r.symbol} ${r.text}`)}<span class="count">${counts[r.key] ?? 0}</span></li>`,
    )
    .join('');
  const root = graph.nodes.find((n) => n.id === graph.root);
  // `<` is escaped so no statement text can close the script element.
  const json = JSON.stringify({ ...graph, nodes: graph.nodes.map((n) => ({ ...n, signatureText: signatureText(n) })) }).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>provenant trace: ${esc(root?.ref ?? '')}</title>
<style>${style}</style>
</head>
<body>
<header>
<h1>Supply-chain trace</h1>
<div class="root-ref">${esc(root?.ref ?? '')}</div>
<div class="result ${options.ok ? 'ok' : 'fail'}" id="result">${options.ok ? '✔ every signed link verified' : '✘ verification failed'}</div>
<span class="hint">${graph.nodes.length} links · max depth ${graph.maxDepth}${options.generatedAt !== undefined ? ` · ${esc(options.generatedAt)}` : ''}</span>
</header>
<main>
<div class="canvas">
<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="trace graph">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#90a4ae"/></marker></defs>
<g class="edges">${edges}</g>
<g class="nodes">${nodes}</g>
</svg>
</div>
<aside>
<section class="panel legend"><h2>Legend</h2><ul>${legendRows}</ul><p class="hint">Solid: material (SLSA v0.2) · dashed: resolved dependency (SLSA v1) · bold: base image · dotted: index platform. “sig ✔” marks a verified image signature. Click a box for details.</p></section>
<section class="panel"><h2>Details</h2><div id="details"></div></section>
</aside>
</main>
<script type="application/json" id="trace-data">${json}</script>
<script>${script}</script>
</body>
</html>
`;
}
