import { isProvenantError, type ProvenantError } from '../../src/errors.js';

/** The ProvenantError `p` rejects with (to assert its kind and code); anything else fails the test. */
export async function rejection(p: Promise<unknown>): Promise<ProvenantError> {
  try {
    await p;
  } catch (err) {
    if (isProvenantError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}
