import { describe, it, expect } from 'vitest';
import { classifyError, errorCodes, isRetryable, ProvenantError } from '../../src/errors.js';

describe('error codes', () => {
  it('are listed once, across every room', () => {
    const all = Object.values(errorCodes).flat();
    expect(new Set(all).size).toBe(all.length);
    for (const code of all) expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
  });

  it('are checked at compile time', () => {
    // @ts-expect-error a code no room lists does not compile
    const err = new ProvenantError('config', 'NOT_A_LISTED_CODE', 'x');
    expect(err.kind).toBe('config');
  });
});

describe('classifyError (the one classifier)', () => {
  it('keeps a ProvenantError and makes anything else a transient UNEXPECTED', () => {
    const known = new ProvenantError('permanent', 'RUN_MALFORMED', 'x');
    expect(classifyError(known)).toBe(known);
    const wrapped = classifyError(new Error('boom'), { run: 'taskrun/ns/a' });
    expect(wrapped).toMatchObject({ kind: 'transient', code: 'UNEXPECTED', context: { run: 'taskrun/ns/a' } });
    expect(isRetryable(wrapped)).toBe(true);
    expect(isRetryable(known)).toBe(false);
  });
});
