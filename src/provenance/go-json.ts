import type { ParamValue } from '../tekton/index.js';

/** A JSON string as Go encoding/json writes it (HTML-safe escapes, U+2028/2029 escaped). */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go `json.Marshal(v1.ParamValue)`: the bare string, array or object (object keys sorted). */
export function goJsonParamValue(v: ParamValue): string {
  if (typeof v === 'string') return goJsonString(v);
  if (Array.isArray(v)) return `[${(v as readonly string[]).map(goJsonString).join(',')}]`;
  const o = v as Readonly<Record<string, string>>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${goJsonString(k)}:${goJsonString(o[k] ?? '')}`)
    .join(',')}}`;
}

/** Plain JSON value of a ParamValue (as it appears inside a predicate). */
export function paramValueJson(v: ParamValue): unknown {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return [...(v as readonly string[])];
  return { ...(v as Readonly<Record<string, string>>) };
}

/** Recursively sorts object keys: protojson writes google.protobuf.Struct fields sorted. */
export function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = sortKeysDeep(o[k]);
    return out;
  }
  return v;
}

/** RFC 3339 in UTC as Go time.Time / protojson Timestamp write it (fraction only when non-zero). */
export function rfc3339Utc(s: string): string {
  const d = new Date(s);
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const fracMatch = /\.(\d+)(?:Z|[+-]\d\d:?\d\d)$/i.exec(s);
  const base = iso.slice(0, 19);
  const frac = (fracMatch?.[1] ?? '').replace(/0+$/, '');
  return frac === '' ? `${base}Z` : `${base}.${frac}Z`;
}
