// Property test at the ConfigMap boundary: arbitrary chains-config data (known keys with arbitrary
// values, unknown keys, oversized maps) gives a Config or a typed error, never an untyped throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { isProvenantError } from '../../src/errors.js';
import { fuzzParameters, fuzzTimeout } from '../support/fuzz.js';

const keys = [
  'artifacts.taskrun.format', 'artifacts.taskrun.storage', 'artifacts.taskrun.signer', 'artifacts.pipelinerun.format',
  'artifacts.pipelinerun.storage', 'artifacts.pipelinerun.signer', 'artifacts.pipelinerun.enable-deep-inspection',
  'artifacts.oci.format', 'artifacts.oci.storage', 'artifacts.oci.signer', 'builder.id', 'builddefinition.buildtype',
  'storage.oci.repository', 'storage.oci.repository.insecure', 'storage.oci.encoding-format', 'storage.local.path',
  'transparency.enabled', 'transparency.url', 'signers.kms.kmsref', 'signers.x509.fulcio.enabled', 'signers.x509.fulcio.address',
  'signers.x509.tsa.url', 'signers.secret.path', 'filter.managed-by',
];
const values = fc.oneof(
  fc.constantFrom('true', 'false', 'in-toto', 'slsa/v1', 'slsa/v2alpha4', 'oci', 'tekton,oci', 'x509', 'kms', 'none', 'manual', ''),
  fc.string({ maxLength: 64 }),
  fc.integer({ min: 0, max: 200_000 }).map((n) => 'x'.repeat(n)),
);

describe('chains-config: property test', () => {
  it(
    'any data map gives a Config or a typed config error',
    () => {
      fc.assert(
        fc.property(
          fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 30 })), values, { maxKeys: 40 }),
          fc.integer({ min: 0, max: 1000 }),
          (data, extraKeys) => {
            const map = { ...data, ...Object.fromEntries(Array.from({ length: extraKeys }, (_, i) => [`x.unknown.${i}`, 'v'])) };
            try {
              parseConfig(map);
            } catch (err) {
              expect(isProvenantError(err)).toBe(true);
            }
          },
        ),
        fuzzParameters(100),
      );
    },
    fuzzTimeout(30_000),
  );
});
