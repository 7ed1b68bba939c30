/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values Rekor signs: objects with sorted keys, no
 * whitespace, strings and numbers as ECMAScript serialises them (which is what RFC 8785 specifies).
 * Rekor signs the SET over this form of `{body, integratedTime, logID, logIndex}`.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v: unknown) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const record = value as Record<string, unknown>;
  // RFC 8785 sorts by UTF-16 code units, which is what the default sort compares.
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}
