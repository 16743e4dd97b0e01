import { RoomHooks } from '../../lib/rooms/room-hooks';
import { RawClient } from '../support/raw-client';
import { startApp, type TestApp } from '../support/test-app';

/** What a room hook (presence) keeps failing: the join that ran it is undone, whoever made it. */
describe('a room hook that fails on a join', () => {
  let t: TestApp;
  let client: RawClient;

  beforeEach(async () => {
    t = await startApp({ memory: true });
    t.mesh.exposeRoom(/^r:/);
    let failing = true;
    t.app.get(RoomHooks).add({
      joined: async () => {
        if (failing) throw new Error('the presence store is down');
        return undefined;
      },
    });
    client = await RawClient.connect(t.url);
    // A member already there stays one when a later join of it fails.
    failing = false;
    expect(await client.command('mesh/join-room', { roomName: 'r:kept' })).toMatchObject({ success: true });
    failing = true;
  });

  afterEach(async () => {
    await client.close();
    await t.close();
  });

  it('undoes a new join from a client or from the server, and keeps an older membership', async () => {
    const reply = await client.command('mesh/join-room', { roomName: 'r:new' });
    expect(reply).toMatchObject({ code: 'ESERVER' });
    expect(await t.mesh.isInRoom('r:new', client.connectionId!)).toBe(false);
    await expect(t.mesh.addToRoom('r:other', client.connectionId!)).rejects.toThrow('the presence store is down');
    expect(await t.mesh.isInRoom('r:other', client.connectionId!)).toBe(false);
    expect(await client.command('mesh/join-room', { roomName: 'r:kept' })).toMatchObject({ code: 'ESERVER' });
    expect(await t.mesh.isInRoom('r:kept', client.connectionId!)).toBe(true);
    expect(await t.mesh.getRooms(client.connectionId!)).toEqual(['r:kept']);
  });
});
