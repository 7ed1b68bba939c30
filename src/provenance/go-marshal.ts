/**
 * Go's `encoding/json` `json.Marshal` of a Kubernetes/Tekton object, driven by the Go type declarations in
 * tekton-go-types.ts (generated from the Go sources): what Tekton Chains writes when it marshals a typed
 * object, e.g. the `content` of a `slsa-tekton` `pipelineTask` resolved dependency (`json.Marshal(*v1.TaskRun)`).
 *
 * The input is the object as JSON (what the API server returned). Marshalling it the Go way means decoding it
 * into the Go types first, then encoding:
 * - fields come out in Go declaration order; fields the Go type lacks are dropped; embedded structs without
 *   a json name are flattened into their parent; keys match field names case-insensitively when no key
 *   matches exactly (Go's decoder does, so `EnableAPIFields` fills `enableAPIFields`);
 * - `omitempty` drops false, 0, "", nil pointers and empty slices/maps, never structs; `omitzero` drops zero
 *   values; a field without either is always written (`""`, `0`, `false`, `null`, or the zero struct);
 * - map keys are sorted; strings escape `<`, `>`, `&`, U+2028 and U+2029 as Go does;
 * - the types with their own MarshalJSON are written as they write themselves: `metav1.Time` as RFC 3339 in
 *   UTC without fractions (null when zero), `metav1.Duration` in Go's `time.Duration` format ("1h0m0s"),
 *   `ParamValue`, `IntOrString`, raw JSON (`FieldsV1`, `RawExtension`) as received.
 * `resource.Quantity` in its canonical form (`canonicalQuantity`).
 * Pure: no I/O, no clock.
 */
import { goJsonString } from './go-json.js';
import { tektonGoTypes, type GoTypeDecl } from './tekton-go-types.js';

type Types = Readonly<Record<string, GoTypeDecl>>;

const intTypes = new Set(['int', 'int8', 'int16', 'int32', 'int64', 'uint', 'uint8', 'uint16', 'uint32', 'uint64', 'byte', 'rune']);
const floatTypes = new Set(['float32', 'float64']);

const isObject = (v: unknown): v is Readonly<Record<string, unknown>> => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown): boolean => v === undefined || v === null;

/** Go's `json.Marshal` of a value decoded from JSON into `interface{}` (maps sorted, numbers as float64). */
function marshalAny(v: unknown): string {
  if (absent(v)) return 'null';
  if (typeof v === 'string') return goJsonString(v);
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `[${v.map(marshalAny).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${goJsonString(k)}:${marshalAny(o[k])}`)
    .join(',')}}`;
}

/** Raw JSON (`json.RawMessage`-like) as Go's encoder compacts it: key order kept, strings re-escaped. */
function marshalRaw(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(marshalRaw).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .map((k) => `${goJsonString(k)}:${marshalRaw(v[k])}`)
      .join(',')}}`;
  }
  return marshalAny(v);
}

const NS = { ns: 1n, us: 1_000n, 'µs': 1_000n, 'μs': 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n } as const;

/** Go `time.ParseDuration`, in nanoseconds; undefined when it is not a duration. */
export function parseGoDuration(s: string): bigint | undefined {
  const m = /^([-+]?)(.*)$/.exec(s);
  const body = m?.[2] ?? '';
  if (body === '0') return 0n;
  if (body === '') return undefined;
  let total = 0n;
  const re = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;
  let at = 0;
  while (at < body.length) {
    re.lastIndex = at;
    const part = re.exec(body);
    if (part === null) return undefined;
    const whole = part[1] ?? '';
    const frac = part[2] ?? '';
    if (whole === '' && frac === '') return undefined;
    const unit = NS[part[3] as keyof typeof NS];
    total += BigInt(whole === '' ? '0' : whole) * unit;
    if (frac !== '') total += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    at = re.lastIndex;
  }
  return m?.[1] === '-' ? -total : total;
}

/** Go `time.Duration.String()`. */
export function formatGoDuration(d: bigint): string {
  const neg = d < 0n;
  let u = neg ? -d : d;
  const frac = (value: bigint, digits: number): [string, bigint] => {
    const scale = 10n ** BigInt(digits);
    const f = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
    return [f === '' ? '' : `.${f}`, value / scale];
  };
  let out: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return '0s';
    const [prec, unit] = u < 1_000n ? [0, 'ns'] : u < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const [f, whole] = prec === 0 ? ['', u] : frac(u, prec);
    out = `${whole}${f}${unit}`;
  } else {
    const [f, seconds] = frac(u, 9);
    u = seconds;
    out = `${u % 60n}${f}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

const binarySuffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;
const decimalSuffixes: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/**
 * `resource.Quantity` as Go writes it after `ParseQuantity`: the canonical form (`1000m` → `1`,
 * `0.5` → `500m`, `1024Mi` → `1Gi`, `1000` → `1k`), rounded up to nano units; the input when it does
 * not parse (Go would refuse the whole object).
 */
export function canonicalQuantity(input: string): string {
  const m = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/.exec(input.trim());
  if (m === null) return input;
  const [int = '', frac = ''] = (m[2] ?? '').split('.');
  let mantissa = BigInt(`${int}${frac}` === '' ? '0' : `${int}${frac}`);
  let scale = -frac.length;
  const suffix = m[3] ?? '';
  const binary = binarySuffixes.indexOf(suffix as (typeof binarySuffixes)[number]);
  let format: 'binary' | 'decimal' | 'exponent';
  if (suffix !== '' && binary > 0) {
    format = 'binary';
    mantissa *= 1024n ** BigInt(binary);
  } else if (/^[eE]/.test(suffix)) {
    format = 'exponent';
    scale += Number(suffix.slice(1));
  } else {
    format = 'decimal';
    scale += decimalSuffixes[suffix] ?? 0;
  }
  if (mantissa === 0n) return '0';
  // Round up (away from zero) to nano units, as ParseQuantity does.
  if (scale < -9) {
    const div = 10n ** BigInt(-9 - scale);
    mantissa = (mantissa + div - 1n) / div;
    scale = -9;
  }
  const sign = m[1] === '-' ? '-' : '';
  if (format === 'binary') {
    const whole = scale >= 0 ? mantissa * 10n ** BigInt(scale) : mantissa % 10n ** BigInt(-scale) === 0n ? mantissa / 10n ** BigInt(-scale) : undefined;
    if (whole !== undefined && whole >= 1024n) {
      let v = whole;
      let k = 0;
      while (v % 1024n === 0n && k < binarySuffixes.length - 1) {
        v /= 1024n;
        k += 1;
      }
      return `${sign}${v}${binarySuffixes[k] ?? ''}`;
    }
    format = 'decimal'; // below 1024 or fractional: Go switches to DecimalSI
  }
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    scale += 1;
  }
  const rem = ((scale % 3) + 3) % 3;
  if (rem !== 0) {
    mantissa *= 10n ** BigInt(rem);
    scale -= rem;
  }
  const si = Object.entries(decimalSuffixes).find(([, e]) => e === scale)?.[0];
  const unit = format === 'decimal' && si !== undefined ? si : scale === 0 ? '' : `e${scale}`;
  return `${sign}${mantissa}${unit}`;
}

/** `metav1.Time` / `apis.VolatileTime`: RFC 3339 in UTC, whole seconds; null for the zero time. */
function marshalTime(v: unknown, micro: boolean): string {
  if (typeof v !== 'string' || v === '') return 'null';
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) return 'null';
  const iso = new Date(ms).toISOString();
  if (iso.startsWith('0001-01-01T00:00:00')) return 'null';
  if (!micro) return `"${iso.slice(0, 19)}Z"`;
  // MicroTime: six fraction digits; digits past milliseconds come from the input text.
  const digits = (/\.(\d+)/.exec(v)?.[1] ?? '').padEnd(6, '0').slice(0, 6);
  return `"${iso.slice(0, 19)}.${digits}Z"`;
}

/** Tekton `ParamValue.MarshalJSON`: a string, a string array or an object, as it was given. */
function marshalParamValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((s) => goJsonString(typeof s === 'string' ? s : JSON.stringify(s))).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${goJsonString(k)}:${goJsonString(String(v[k] ?? ''))}`)
      .join(',')}}`;
  }
  // UnmarshalJSON keeps anything else as its JSON text in StringVal.
  return goJsonString(typeof v === 'string' ? v : JSON.stringify(v ?? null));
}

function marshalCustom(kind: Extract<GoTypeDecl, { custom: string }>['custom'], v: unknown): string {
  switch (kind) {
    case 'Time':
    case 'VolatileTime':
      return marshalTime(v, false);
    case 'MicroTime':
      return marshalTime(v, true);
    case 'Duration': {
      const d = typeof v === 'string' ? parseGoDuration(v) : undefined;
      return goJsonString(formatGoDuration(d ?? 0n));
    }
    case 'ParamValue':
      return marshalParamValue(v);
    case 'IntOrString':
      return typeof v === 'number' ? String(Math.trunc(v)) : goJsonString(typeof v === 'string' ? v : '');
    case 'Quantity':
      return absent(v) ? '"0"' : goJsonString(canonicalQuantity(String(v)));
    case 'URL':
      return goJsonString(typeof v === 'string' ? v : '');
    case 'Raw':
      return absent(v) ? 'null' : marshalRaw(v);
  }
}

/**
 * The JSON value Go's decoder puts in field `name`: the exact key, else (as encoding/json does) a key equal
 * under case folding that is not another field's exact name; the last such key wins, as in Go.
 */
function fieldValue(v: Readonly<Record<string, unknown>>, name: string, fields: readonly (readonly [string, ...unknown[]])[]): unknown {
  if (Object.hasOwn(v, name)) return v[name];
  const folded = name.toLowerCase();
  let value: unknown;
  for (const k of Object.keys(v)) {
    if (k.toLowerCase() === folded && !fields.some(([other]) => other === k)) value = v[k];
  }
  return value;
}

type Shape =
  | { k: 'basic'; name: string }
  | { k: 'ptr' | 'slice'; elem: string }
  | { k: 'map'; value: string }
  | { k: 'named'; decl: GoTypeDecl };

class GoMarshaller {
  private readonly shapes = new Map<string, Shape>();
  constructor(private readonly types: Types) {}

  private shape(type: string): Shape {
    let s = this.shapes.get(type);
    if (s !== undefined) return s;
    if (type.startsWith('*')) s = { k: 'ptr', elem: type.slice(1) };
    else if (type.startsWith('[]')) s = { k: 'slice', elem: type.slice(2) };
    else if (type.startsWith('map[')) {
      let depth = 0;
      let i = 3;
      for (; i < type.length; i += 1) {
        if (type[i] === '[') depth += 1;
        else if (type[i] === ']' && --depth === 0) break;
      }
      s = { k: 'map', value: type.slice(i + 1) };
    } else {
      const decl = this.types[type];
      s = decl === undefined ? { k: 'basic', name: type } : { k: 'named', decl };
    }
    this.shapes.set(type, s);
    return s;
  }

  /** The underlying shape after following named non-struct types (`type Params []Param`). */
  private underlying(type: string): Shape {
    let s = this.shape(type);
    while (s.k === 'named' && 'of' in s.decl) s = this.shape(s.decl.of);
    return s;
  }

  /** Go's isEmptyValue, for `omitempty`. */
  private isEmpty(type: string, v: unknown): boolean {
    const s = this.underlying(type);
    switch (s.k) {
      case 'ptr':
        return absent(v);
      case 'slice':
        return !Array.isArray(v) || v.length === 0;
      case 'map':
        return !isObject(v) || Object.keys(v).length === 0;
      case 'named':
        return false; // structs (custom marshalers included) are never empty
      case 'basic':
        if (s.name === 'any') return absent(v);
        if (s.name === 'string') return typeof v !== 'string' || v === '';
        if (s.name === 'bool') return v !== true;
        return typeof v !== 'number' || v === 0;
    }
  }

  /** Go's zero check, for `omitzero` (IsZero for the time types). */
  private isZero(type: string, v: unknown): boolean {
    const s = this.underlying(type);
    if (s.k === 'named' && 'custom' in s.decl) return marshalCustom(s.decl.custom, v) === 'null' || absent(v);
    if (s.k === 'named' && 'struct' in s.decl) {
      if (!isObject(v)) return true;
      return s.decl.struct.every(([name, t, flags]) => (flags?.includes('i') ? this.isZero(t, v) : this.isZero(t, v[name])));
    }
    if (s.k === 'slice' || s.k === 'map' || s.k === 'ptr') return absent(v);
    return this.isEmpty(type, v);
  }

  marshal(type: string, v: unknown): string {
    const s = this.shape(type);
    switch (s.k) {
      case 'ptr':
        return absent(v) ? 'null' : this.marshal(s.elem, v);
      case 'slice':
        if (!Array.isArray(v)) return 'null';
        return `[${v.map((e) => this.marshal(s.elem, e)).join(',')}]`;
      case 'map': {
        if (!isObject(v)) return 'null';
        return `{${Object.keys(v)
          .sort()
          .map((k) => `${goJsonString(k)}:${this.marshal(s.value, v[k])}`)
          .join(',')}}`;
      }
      case 'basic':
        return this.marshalBasic(s.name, v);
      case 'named': {
        const d = s.decl;
        if ('custom' in d) return marshalCustom(d.custom, v);
        if ('of' in d) return this.marshal(d.of, v);
        return `{${this.fields(d.struct, isObject(v) ? v : {}).join(',')}}`;
      }
    }
  }

  private fields(fields: Extract<GoTypeDecl, { struct: unknown }>['struct'], v: Readonly<Record<string, unknown>>): string[] {
    const out: string[] = [];
    for (const [name, type, flags = ''] of fields) {
      if (flags.includes('i')) {
        // Embedded: its fields are promoted; a nil embedded pointer contributes none.
        const s = this.shape(type);
        const target = s.k === 'ptr' ? this.shape(s.elem) : s;
        if (s.k === 'ptr' && !isObject(v)) continue;
        if (target.k === 'named' && 'struct' in target.decl) out.push(...this.fields(target.decl.struct, v));
        continue;
      }
      const value = fieldValue(v, name, fields);
      if (flags.includes('o') && this.isEmpty(type, value)) continue;
      if (flags.includes('z') && this.isZero(type, value)) continue;
      const encoded = this.marshal(type, value);
      out.push(`${goJsonString(name)}:${flags.includes('s') && encoded !== 'null' && !encoded.startsWith('"') ? goJsonString(encoded) : encoded}`);
    }
    return out;
  }

  private marshalBasic(name: string, v: unknown): string {
    if (name === 'any') return marshalAny(v);
    if (name === 'string') return goJsonString(typeof v === 'string' ? v : '');
    if (name === 'bool') return v === true ? 'true' : 'false';
    if (intTypes.has(name)) return typeof v === 'number' && Number.isFinite(v) ? String(Math.trunc(v)) : '0';
    if (floatTypes.has(name)) return typeof v === 'number' && Number.isFinite(v) ? JSON.stringify(v) : '0';
    throw new Error(`go-marshal: no declaration for Go type ${name}`);
  }
}

const tekton = new GoMarshaller(tektonGoTypes);

/** `json.Marshal` of `value` decoded into the Go type `type` (a key of tekton-go-types, e.g. `v1.TaskRun`). */
export function goMarshal(type: string, value: unknown, types?: Types): string {
  return (types === undefined ? tekton : new GoMarshaller(types)).marshal(type, value);
}
