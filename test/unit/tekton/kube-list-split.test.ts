import { describe, expect, it } from 'vitest';
import { splitList } from '../../../src/tekton/kube-http.js';
import { ListScanner } from '../../../src/tekton/list-scanner.js';

/** Feeds `bytes` in chunks of the given sizes (cycled), as a socket would deliver them. */
function streamed(bytes: Buffer, sizes: readonly number[]): { items: unknown[]; metadata: unknown } {
  const scanner = new ListScanner();
  const items: unknown[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length] ?? 1;
    for (const item of scanner.push(bytes.subarray(at, at + size))) items.push(JSON.parse(item.toString('utf8')));
    at += size;
  }
  return { items, metadata: scanner.end() };
}

const page = (value: unknown, space?: number): Buffer => Buffer.from(JSON.stringify(value, null, space));

describe('splitList (list pages parsed item by item)', () => {
  it('yields exactly what JSON.parse yields, whatever the strings hold, with the metadata anywhere', () => {
    const items = [
      { metadata: { name: 'a', annotations: { x: '{"nested": [1, 2]}', y: 'quote \\" and ] and } and \\\\', z: '\\\\"' } } },
      { metadata: { name: 'ü-日本-😀', 'key "items"': ['items'] }, spec: { params: [{ value: ['[', '{', ','] }], n: -1.5e3, t: true, z: null } },
      {},
    ];
    for (const doc of [
      { kind: 'TaskRunList', apiVersion: 'tekton.dev/v1', metadata: { resourceVersion: '17', continue: 'tok' }, items },
      { items, metadata: { resourceVersion: '17', continue: 'tok' }, kind: 'TaskRunList' },
    ]) {
      for (const space of [undefined, 2]) {
        const split = splitList(page(doc, space));
        expect(split.count).toBe(items.length);
        expect([...split.items]).toEqual(items);
        expect([...split.items]).toEqual(items); // iterable again
        expect(split.metadata).toEqual({ resourceVersion: '17', continue: 'tok' });
        for (const sizes of [[1], [2, 3, 5], [7, 64], [4096]]) {
          expect(streamed(page(doc, space), sizes)).toEqual({ items, metadata: { resourceVersion: '17', continue: 'tok' } });
        }
      }
    }
  });

  it('an empty page, an empty continue and no metadata', () => {
    expect(splitList(page({ items: [], metadata: { resourceVersion: '3', continue: '' } }))).toMatchObject({ count: 0, metadata: { resourceVersion: '3' } });
    const bare = splitList(page({ items: [{ a: 1 }] }));
    expect([...bare.items]).toEqual([{ a: 1 }]);
    expect(bare.metadata).toEqual({});
  });

  it('malformed JSON is an error, not a silent partial page', () => {
    expect(() => splitList(Buffer.from('{"items":[{"a":1},'))).toThrow();
    expect(() => splitList(Buffer.from('not json'))).toThrow();
    expect(() => splitList(Buffer.from('{"items":[1,2]}'))).toThrow();
  });
});
