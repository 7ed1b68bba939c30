import { describe, it, expect } from 'vitest';
import { createCapturingLogger } from '../../../src/observability/index.js';

describe('logger redaction', () => {
  it('censors tokens, PINs, passwords and auth headers wherever they appear', () => {
    const { logger, lines } = createCapturingLogger();
    logger.info({ token: 'eyJ-secret-token', pin: '123456', password: 'hunter2', headers: { authorization: 'Bearer abc' } }, 'x');
    logger.info({ request: { token: 'tok2', credentials: { user: 'u' } } }, 'y');
    const text = lines.join('\n');
    for (const secret of ['eyJ-secret-token', '123456', 'hunter2', 'Bearer abc', 'tok2']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
    // lines are structured JSON
    for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow();
  });
});
