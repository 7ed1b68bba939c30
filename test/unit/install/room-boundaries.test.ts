import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { Linter } from 'eslint';
import { roomsPlugin } from '../../../eslint/room-boundaries.js';

const src = path.resolve(import.meta.dirname, '..', '..', '..', 'src');
const linter = new Linter({ configType: 'flat' });
const config = [{ files: ['**/*.ts'], plugins: { rooms: roomsPlugin }, rules: { 'rooms/room-boundaries': 'error' as const } }];
const lint = (file: string, code: string): string[] =>
  linter.verify(code, config, { filename: path.join(src, file) }).map((m) => m.ruleId ?? m.message);

describe('ESLint room-boundaries rule', () => {
  it('refuses a deep import into another room, static or dynamic', () => {
    expect(lint('queue/x.ts', "import { createRunStore } from '../tekton/run-store.js';")).toEqual(['rooms/room-boundaries']);
    expect(lint('cli/commands/x.ts', "export { createTagWriter } from '../../storage/oci/tag-update.js';")).toEqual(['rooms/room-boundaries']);
    expect(lint('wiring/y.ts', "await import('../signing/pkcs11-signer.js');")).toEqual(['rooms/room-boundaries']);
    expect(lint('main.ts', "import { createRunStore } from './tekton/run-store.js';")).toEqual(['rooms/room-boundaries']);
  });

  it('allows the room index, the listed light entry points, the same room and the shared top-level files', () => {
    expect(lint('queue/x.ts', "import { createRunStore } from '../tekton/index.js';")).toEqual([]);
    expect(lint('queue/x.ts', "import { formatRunKey } from '../tekton/run-key.js';")).toEqual([]);
    expect(lint('queue/x.ts', "import { backoffDelayMs } from '../backoff.js';")).toEqual([]);
    expect(lint('storage/oci/x.ts', "import { sha256Digest } from './registry-client.js';")).toEqual([]);
    expect(lint('main.ts', "import { createRunStore } from './tekton/index.js';")).toEqual([]);
  });
});
