import { TwoWayIndex } from '../../lib/common/two-way-index';

describe('TwoWayIndex', () => {
  it('answers from both sides and drops empty sets', () => {
    const index = new TwoWayIndex<string, string>();
    expect(index.add('lobby', 'c1')).toBe(true);
    expect(index.add('lobby', 'c1')).toBe(false);
    index.add('lobby', 'c2');
    index.add('kitchen', 'c1');
    expect([...index.rightsOf('lobby')!]).toEqual(['c1', 'c2']);
    expect([...index.leftsOf('c1')!]).toEqual(['lobby', 'kitchen']);
    expect(index.delete('lobby', 'c2')).toBe(true);
    expect(index.delete('lobby', 'c2')).toBe(false);
    expect(index.leftsOf('c2')).toBeUndefined();
    expect(index.deleteRight('c1').sort()).toEqual(['kitchen', 'lobby']);
    expect(index.rightsOf('lobby')).toBeUndefined();
    expect(index.rightsOf('kitchen')).toBeUndefined();
    index.add('a', 'x');
    index.add('a', 'y');
    expect(index.deleteLeft('a')).toEqual(['x', 'y']);
    expect(index.leftsOf('x')).toBeUndefined();
    expect(index.has('a', 'x')).toBe(false);
  });
});
