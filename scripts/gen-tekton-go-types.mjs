#!/usr/bin/env node
// Generates src/provenance/tekton-go-types.ts: the Go struct declarations (field order, json tags) of every
// type reachable from Tekton's v1.TaskRun and v1.PipelineRun, read from the Go sources of the versions Tekton
// Chains builds against. The serializer in src/provenance/go-marshal.ts walks this table to write what Go's
// json.Marshal writes.
//
//   node scripts/gen-tekton-go-types.mjs MIRRORS_DIR > src/provenance/tekton-go-types.ts
//
// MIRRORS_DIR holds bare git clones named owner+repo/repo (tektoncd+pipeline, kubernetes+api,
// kubernetes+apimachinery, knative+pkg); the revisions below are Chains e44b60f's go.mod versions.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const mirrors = process.argv[2] ?? '/work/.mirror';

const sources = [
  { repo: 'tektoncd+pipeline', rev: 'v1.15.0', module: 'github.com/tektoncd/pipeline', dirs: ['pkg/apis/pipeline/v1', 'pkg/apis/pipeline/pod', 'pkg/result', 'pkg/apis/config'] },
  { repo: 'kubernetes+api', rev: 'v0.36.3', module: 'k8s.io/api', dirs: ['core/v1'] },
  {
    repo: 'kubernetes+apimachinery',
    rev: 'v0.36.3',
    module: 'k8s.io/apimachinery',
    dirs: ['pkg/apis/meta/v1', 'pkg/types', 'pkg/util/intstr', 'pkg/api/resource', 'pkg/runtime', 'pkg/selection'],
  },
  { repo: 'knative+pkg', rev: '39ebae2ee2dc', module: 'knative.dev/pkg', dirs: ['apis', 'apis/duck/v1'] },
];

// Types whose MarshalJSON the serializer implements by name (checked: every method found must be listed).
const customMarshalers = {
  'github.com/tektoncd/pipeline/pkg/apis/pipeline/v1.ParamValue': 'ParamValue',
  'k8s.io/apimachinery/pkg/apis/meta/v1.Time': 'Time',
  'k8s.io/apimachinery/pkg/apis/meta/v1.MicroTime': 'MicroTime',
  'k8s.io/apimachinery/pkg/apis/meta/v1.Duration': 'Duration',
  'k8s.io/apimachinery/pkg/apis/meta/v1.FieldsV1': 'Raw',
  'k8s.io/apimachinery/pkg/runtime.RawExtension': 'Raw',
  'k8s.io/apimachinery/pkg/util/intstr.IntOrString': 'IntOrString',
  'k8s.io/apimachinery/pkg/api/resource.Quantity': 'Quantity',
  'knative.dev/pkg/apis.VolatileTime': 'VolatileTime',
  'knative.dev/pkg/apis.URL': 'URL',
};

const git = (repo, ...args) => execFileSync('git', ['-C', path.join(mirrors, repo, 'repo'), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });

/** pkgPath → { decls: Map<name, {kind, ...}>, marshalers: Set<name> } */
const packages = new Map();

function parseImports(text) {
  const imports = new Map();
  const block = /^import\s*\(([\s\S]*?)^\)/m.exec(text);
  const lines = block ? block[1].split('\n') : [];
  for (const m of text.matchAll(/^import\s+(\w+\s+)?"([^"]+)"/gm)) lines.push(`${m[1] ?? ''}"${m[2]}"`);
  for (const line of lines) {
    const m = /^\s*(?:(\w+|\.)\s+)?"([^"]+)"/.exec(line);
    if (!m) continue;
    const p = m[2];
    imports.set(m[1] ?? p.split('/').pop(), p);
  }
  return imports;
}

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^((?:[^`"\n/]|"(?:[^"\\\n]|\\.)*"|`[^`]*`|\/(?!\/))*)\/\/.*$/gm, '$1');
}

/** Resolves identifiers in a Go type expression to `pkgPath.Name`; builtins stay as they are. */
function qualify(expr, pkg, imports) {
  const builtins = new Set(['string', 'bool', 'byte', 'rune', 'int', 'int8', 'int16', 'int32', 'int64', 'uint', 'uint8', 'uint16', 'uint32', 'uint64', 'float32', 'float64', 'any', 'error']);
  expr = expr.replace(/interface\s*\{\s*\}/g, 'any');
  const m = /^(\*|\[\]|\[\d+\]|map\[([^\]]+)\])(.*)$/.exec(expr);
  if (m) {
    if (m[1].startsWith('map[')) return `map[${qualify(m[2], pkg, imports)}]${qualify(m[3], pkg, imports)}`;
    return m[1] + qualify(m[3], pkg, imports);
  }
  if (builtins.has(expr)) return expr;
  const dot = expr.indexOf('.');
  if (dot > 0) {
    const alias = expr.slice(0, dot);
    const target = imports.get(alias);
    if (target === undefined) throw new Error(`unknown import ${alias} in ${pkg}: ${expr}`);
    return `${target}.${expr.slice(dot + 1)}`;
  }
  return `${pkg}.${expr}`;
}

function parseStructBody(body, pkg, imports) {
  const fields = [];
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const tagMatch = /`([^`]*)`\s*$/.exec(line);
    const tag = tagMatch ? tagMatch[1] : '';
    const decl = (tagMatch ? line.slice(0, tagMatch.index) : line).trim();
    const parts = decl.split(/\s+/);
    const json = /json:"([^"]*)"/.exec(tag)?.[1];
    let goNames;
    let type;
    let embedded = false;
    if (parts.length === 1) {
      embedded = true;
      type = parts[0];
      goNames = [type.replace(/^\*/, '').split('.').pop()];
    } else {
      let i = 0;
      while (parts[i].endsWith(',')) i += 1;
      goNames = parts.slice(0, i + 1).map((n) => n.replace(/,$/, ''));
      type = parts.slice(i + 1).join('');
    }
    if (json === '-') continue;
    const [name, ...opts] = (json ?? '').split(',');
    for (const goName of goNames) {
      if (!/^[A-Z]/.test(goName)) continue; // unexported
      fields.push({
        name: name === '' ? (embedded ? '' : goName) : name,
        type: qualify(type, pkg, imports),
        omitempty: opts.includes('omitempty'),
        omitzero: opts.includes('omitzero'),
        string: opts.includes('string'),
        inline: embedded && name === '',
      });
    }
  }
  return fields;
}

function loadPackage(source, dir) {
  const pkgPath = `${source.module}/${dir}`;
  const decls = new Map();
  const marshalers = new Set();
  const files = git(source.repo, 'ls-tree', '--name-only', source.rev, `${dir}/`)
    .split('\n')
    .filter((f) => f.endsWith('.go') && !f.endsWith('_test.go') && !f.includes('zz_generated') && !f.includes('openapi_generated'));
  for (const file of files) {
    const text = stripComments(git(source.repo, 'show', `${source.rev}:${file}`));
    const imports = parseImports(text);
    for (const m of text.matchAll(/^func\s+\(\s*\w*\s*\*?(\w+)\s*\)\s+MarshalJSON\(\)/gm)) marshalers.add(m[1]);
    // Single declarations and the members of `type ( … )` groups.
    const chunks = [];
    for (const m of text.matchAll(/^type\s+(\w+)(\[[^\]]*\])?\s+(=\s*)?(.*)$/gm)) chunks.push({ index: m.index + m[0].length - m[4].length, name: m[1], alias: m[3] !== undefined, rest: m[4] });
    for (const g of text.matchAll(/^type\s*\(\n([\s\S]*?)^\)/gm)) {
      let offset = g.index + g[0].indexOf('\n') + 1;
      for (const line of g[1].split('\n')) {
        const m = /^\s*(\w+)\s+(=\s*)?(.*)$/.exec(line);
        if (m) chunks.push({ index: offset + line.length - m[3].length, name: m[1], alias: m[2] !== undefined, rest: m[3] });
        offset += line.length + 1;
      }
    }
    for (const c of chunks) {
      if (c.rest.startsWith('struct')) {
        const open = text.indexOf('{', c.index);
        let depth = 0;
        let end = open;
        for (; end < text.length; end += 1) {
          if (text[end] === '{') depth += 1;
          else if (text[end] === '}' && --depth === 0) break;
        }
        const body = text.slice(open + 1, end);
        if (/\bstruct\s*\{/.test(body)) {
          decls.set(c.name, { kind: 'unsupported', why: 'anonymous struct field' });
          continue;
        }
        decls.set(c.name, { kind: 'struct', fields: parseStructBody(body, pkgPath, imports) });
      } else if (c.rest.startsWith('interface') || c.rest.startsWith('func')) {
        decls.set(c.name, { kind: 'interface' });
      } else {
        decls.set(c.name, { kind: c.alias ? 'alias' : 'named', of: qualify(c.rest.trim(), pkgPath, imports) });
      }
    }
  }
  packages.set(pkgPath, { decls, marshalers });
}

for (const s of sources) for (const d of s.dirs) loadPackage(s, d);

const out = new Map();
const unresolved = new Set();

function elem(expr) {
  const m = /^(\*|\[\]|\[\d+\])(.*)$/.exec(expr);
  if (m) return [m[2]];
  const mm = /^map\[([^\]]+)\](.*)$/.exec(expr);
  if (mm) return [mm[1], mm[2]];
  return undefined;
}

function visit(expr) {
  const inner = elem(expr);
  if (inner) return inner.forEach(visit);
  const dot = expr.lastIndexOf('.');
  if (dot < 0) return; // builtin
  if (out.has(expr) || unresolved.has(expr)) return;
  const pkg = packages.get(expr.slice(0, dot));
  const name = expr.slice(dot + 1);
  const decl = pkg?.decls.get(name);
  if (decl === undefined) {
    unresolved.add(expr);
    return;
  }
  if (pkg.marshalers.has(name)) {
    const marshaler = customMarshalers[expr];
    if (marshaler === undefined) throw new Error(`${expr} has a MarshalJSON the serializer does not implement`);
    out.set(expr, { kind: 'custom', marshaler });
    return;
  }
  out.set(expr, decl);
  if (decl.kind === 'struct') for (const f of decl.fields) visit(f.type);
  else if (decl.kind === 'alias' || decl.kind === 'named') visit(decl.of);
}

visit('github.com/tektoncd/pipeline/pkg/apis/pipeline/v1.TaskRun');
visit('github.com/tektoncd/pipeline/pkg/apis/pipeline/v1.PipelineRun');
if (unresolved.size > 0) throw new Error(`unresolved types: ${[...unresolved].join(', ')}`);

// Short, stable names: the last path element of the package plus the type name (checked unique).
const short = new Map();
for (const full of out.keys()) {
  const dot = full.lastIndexOf('.');
  const pkgPath = full.slice(0, dot);
  const prefix = { 'k8s.io/api/core/v1': 'corev1', 'k8s.io/apimachinery/pkg/apis/meta/v1': 'metav1', 'knative.dev/pkg/apis/duck/v1': 'duckv1' }[pkgPath] ?? pkgPath.split('/').pop();
  const s = `${prefix}.${full.slice(dot + 1)}`;
  if ([...short.values()].includes(s)) throw new Error(`short name clash: ${s}`);
  short.set(full, s);
}
const rename = (expr) => expr.replace(/[\w./-]+\.\w+/g, (t) => short.get(t) ?? t);

const lines = [];
for (const [full, decl] of [...out.entries()].sort((a, b) => short.get(a[0]).localeCompare(short.get(b[0])))) {
  const key = JSON.stringify(short.get(full));
  if (decl.kind === 'struct') {
    const fields = decl.fields.map((f) => {
      const flags = `${f.inline ? 'i' : ''}${f.omitempty ? 'o' : ''}${f.omitzero ? 'z' : ''}${f.string ? 's' : ''}`;
      return `[${JSON.stringify(f.name)}, ${JSON.stringify(rename(f.type))}${flags === '' ? '' : `, ${JSON.stringify(flags)}`}]`;
    });
    lines.push(`  ${key}: { struct: [${fields.length === 0 ? '' : `\n    ${fields.join(',\n    ')},\n  `}] },`);
  } else if (decl.kind === 'custom') lines.push(`  ${key}: { custom: ${JSON.stringify(decl.marshaler)} },`);
  else if (decl.kind === 'interface') lines.push(`  ${key}: { of: 'any' },`);
  else if (decl.kind === 'unsupported') throw new Error(`${full}: ${decl.why}`);
  else lines.push(`  ${key}: { of: ${JSON.stringify(rename(decl.of))} },`);
}

process.stdout.write(`// GENERATED by scripts/gen-tekton-go-types.mjs: do not edit.
// Go struct declarations (field order, json tags) of every type reachable from Tekton's v1.TaskRun and
// v1.PipelineRun, from the module versions Tekton Chains e44b60f builds against: ${sources.map((s) => `${s.module}@${s.rev}`).join(', ')}.
// A field is [json name ('' = embedded, fields promoted), Go type, flags]: i inline (embedded), o omitempty,
// z omitzero, s ",string". \`custom\` names a MarshalJSON implemented in go-marshal.ts.

export type GoFieldFlags = 'i' | 'o' | 'z' | 's' | 'io' | 'oz' | 'os';
export type GoField = readonly [name: string, type: string, flags?: string];
export type GoTypeDecl =
  | { readonly struct: readonly GoField[] }
  | { readonly of: string }
  | { readonly custom: 'ParamValue' | 'Time' | 'MicroTime' | 'Duration' | 'Raw' | 'IntOrString' | 'Quantity' | 'VolatileTime' | 'URL' };

export const tektonGoTypes: Readonly<Record<string, GoTypeDecl>> = {
${lines.join('\n')}
};
`);
