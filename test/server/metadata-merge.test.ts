import { combineMetadata } from '../../lib/connection/metadata-merge';

describe('combineMetadata', () => {
  it('replace, merge (shallow) and deepMerge', () => {
    const current = { a: 1, nested: { x: 1, y: 2 }, list: [1, 2] };
    expect(combineMetadata(current, { b: 2 })).toEqual({ b: 2 });
    expect(combineMetadata(current, { nested: { y: 3 } }, 'merge')).toEqual({ a: 1, nested: { y: 3 }, list: [1, 2] });
    expect(combineMetadata(current, { nested: { y: 3 }, list: [9] }, 'deepMerge')).toEqual({ a: 1, nested: { x: 1, y: 3 }, list: [9] });
    expect(combineMetadata('text', { a: 1 }, 'merge')).toEqual({ a: 1 });
    expect(combineMetadata({ a: 1 }, null, 'merge')).toBeNull();
  });

  it('drops __proto__, constructor and prototype keys at every depth, from both sides', () => {
    const hostile = JSON.parse('{"__proto__":{"polluted":true},"ok":{"constructor":{"prototype":{"x":1}},"fine":1},"list":[{"__proto__":{"p":1}}]}');
    const combined = combineMetadata(JSON.parse('{"prototype":1,"keep":true}'), hostile, 'deepMerge') as Record<string, unknown>;
    expect(combined).toEqual({ keep: true, ok: { fine: 1 }, list: [{}] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
