import { ProvenantError } from '../errors.js';
import { limits } from '../limits.js';

/**
 * Refuses `chains-config` data over `limits.configMap` before any key is parsed (a ConfigMap is at most
 * 1 MiB in Kubernetes; Chains has about forty keys). `config`: the ConfigMap must be fixed.
 */
export function checkConfigMapLimits(data: Readonly<Record<string, string>>): void {
  const max = limits.configMap;
  const keys = Object.keys(data);
  const fail = (limit: string, maxValue: number, actual: number, key?: string): never => {
    throw new ProvenantError('config', 'CONFIG_INVALID', `chains-config: ${limit} ${actual} exceeds the limit of ${maxValue}${key === undefined ? '' : ` (key ${key.slice(0, 100)})`}`, {
      context: { limit, max: maxValue, actual, hint: 'see docs/limits.md' },
    });
  };
  if (keys.length > max.maxKeys) fail('keys', max.maxKeys, keys.length);
  let bytes = 0;
  for (const k of keys) {
    const v = data[k];
    const length = typeof v === 'string' ? v.length : 0;
    if (length > max.maxValueLength) fail('value length', max.maxValueLength, length, k);
    bytes += k.length + length;
  }
  if (bytes > max.maxBytes) fail('bytes', max.maxBytes, bytes);
}
