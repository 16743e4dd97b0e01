import { LocalRoomIndex } from '../../lib/delivery/local-room-index';

describe('LocalRoomIndex.reconcile', () => {
  const members = (index: LocalRoomIndex, room: string) => [...(index.membersOf(room) ?? [])].sort();

  it('adds what the store has and the index missed, removes what the store no longer has', async () => {
    const index = new LocalRoomIndex();
    index.join('stale', 'c1');
    index.join('kept', 'c1');
    const result = await index.reconcile(['c1', 'c2'], async () => [['kept', 'missed'], ['missed']]);
    expect(result).toEqual({ added: 2, removed: 1, changed: new Set(['stale', 'missed']) });
    expect(members(index, 'stale')).toEqual([]);
    expect(members(index, 'kept')).toEqual(['c1']);
    expect(members(index, 'missed')).toEqual(['c1', 'c2']);
  });

  it('changes made while the store is read are newer than the read and win', async () => {
    const index = new LocalRoomIndex();
    index.join('left-during-read', 'c1');
    const result = await index.reconcile(['c1', 'c2', 'c3'], async () => {
      // The read saw the state before these changes.
      index.leave('left-during-read', 'c1');
      index.join('joined-during-read', 'c1');
      index.join('cleared-during-read', 'c2');
      index.clear('cleared-during-read');
      index.removeConnection('c3');
      return [['left-during-read'], ['cleared-during-read'], ['anything']];
    });
    expect(result).toEqual({ added: 0, removed: 0, changed: new Set() });
    expect(members(index, 'left-during-read')).toEqual([]);
    expect(members(index, 'joined-during-read')).toEqual(['c1']);
    expect(members(index, 'cleared-during-read')).toEqual([]);
    expect(members(index, 'anything')).toEqual([]);
  });

  it('a failed read changes nothing and stops tracking', async () => {
    const index = new LocalRoomIndex();
    index.join('r', 'c1');
    await expect(index.reconcile(['c1'], async () => Promise.reject(new Error('redis down')))).rejects.toThrow('redis down');
    expect(members(index, 'r')).toEqual(['c1']);
    expect(await index.reconcile(['c1'], async () => [[]])).toEqual({ added: 0, removed: 1, changed: new Set(['r']) });
  });
});
