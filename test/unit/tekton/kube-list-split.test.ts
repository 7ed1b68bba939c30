import { describe, expect, it } from 'vitest';
import { splitList } from '../../../src/tekton/kube-http.js';

const page = (value: unknown, space?: number): Buffer => Buffer.from(JSON.stringify(value, null, space));

describe('splitList (list pages parsed item by item)', () => {
  it('yields exactly what JSON.parse yields, whatever the strings hold, with the metadata anywhere', () => {
    const items = [
      { metadata: { name: 'a', annotations: { x: '{"nested": [1, 2]}', y: 'quote \\" and ] and } and \\\\' } } },
      { metadata: { name: 'ü-日本-😀' }, spec: { params: [{ value: ['[', '{', ','] }], n: -1.5e3, t: true, z: null } },
      [],
      'plain',
      42,
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
  });
});
