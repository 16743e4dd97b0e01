import { MeshClient, MeshCommandError } from '../../client';
import { ScriptedServer } from './support/scripted-server';

describe('MeshClient channels, rooms and metadata', () => {
  let server: ScriptedServer;
  let client: MeshClient;

  beforeEach(async () => {
    server = await ScriptedServer.start();
    client = new MeshClient(server.url);
    await client.connect();
  });

  afterEach(async () => {
    await client.close();
    await server.stop();
  });

  const lastPayload = (command: string) => [...server.framesOf(1)].reverse().find((f) => f.command === command)?.payload;
  const syncPoint = () => client.command('echo', 'sync point');

  it('subscribes, returns the history without replaying it, and delivers messages to each callback', async () => {
    const first: string[] = [];
    const second: string[] = [];
    await expect(client.subscribe('news', (m) => first.push(m), { historyLimit: 2 })).resolves.toEqual({ success: true, history: ['m2', 'm1'] });
    await client.subscribe('news', (m) => second.push(m));
    expect(lastPayload('mesh/subscribe-channel')).toEqual({ channel: 'news' });
    server.push('mesh/subscription-message', { channel: 'news', message: 'live' });
    server.push('mesh/subscription-message', { channel: 'other', message: 'not mine' });
    await syncPoint();
    expect(first).toEqual(['live']);
    expect(second).toEqual(['live']);
  });

  it('a callback that throws neither skips the others nor escapes: it is reported as an error event', async () => {
    const got: string[] = [];
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e.detail));
    client.on('announcement', () => {
      throw new Error('listener bug');
    });
    await client.subscribe('news', () => {
      throw new Error('callback bug');
    });
    await client.subscribe('news', (m) => got.push(m));
    server.push('mesh/subscription-message', { channel: 'news', message: 'live' });
    server.push('announcement', { text: 'hi' });
    await syncPoint();
    expect(got).toEqual(['live']);
    expect(errors).toEqual([
      expect.objectContaining({ name: 'ListenerError', code: 'ELISTENER', event: 'channel:news', message: 'A listener for "channel:news" threw: callback bug' }),
      expect.objectContaining({ code: 'ELISTENER', event: 'announcement' }),
    ]);
    expect((errors[0] as Error).cause).toEqual(new Error('callback bug'));
  });

  it('with no error listener, a throwing callback is printed, not thrown', async () => {
    const printed = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await client.subscribe('news', () => {
        throw new Error('unheard');
      });
      server.push('mesh/subscription-message', { channel: 'news', message: 'live' });
      await syncPoint();
      expect(printed).toHaveBeenCalledWith('[nestjs-mesh] a listener for "channel:news" threw:', new Error('unheard'));
    } finally {
      printed.mockRestore();
    }
  });

  it('drops the callback when the server refuses the subscription', async () => {
    server.handlers.set('mesh/subscribe-channel', () => ({ success: false, history: [] }));
    const got: string[] = [];
    await expect(client.subscribe('secret', (m) => got.push(m))).resolves.toEqual({ success: false, history: [] });
    server.push('mesh/subscription-message', { channel: 'secret', message: 'leak' });
    await syncPoint();
    expect(got).toEqual([]);
  });

  it('unsubscribes one callback locally, and on the server when the last one goes', async () => {
    const a = jest.fn();
    const b = jest.fn();
    await client.subscribe('news', a);
    await client.subscribe('news', b);
    await expect(client.unsubscribe('news', a)).resolves.toBe(true);
    expect(lastPayload('mesh/unsubscribe-channel')).toBeUndefined();
    await expect(client.unsubscribe('news')).resolves.toBe(true);
    expect(lastPayload('mesh/unsubscribe-channel')).toEqual({ channel: 'news' });
    server.push('mesh/subscription-message', { channel: 'news', message: 'gone' });
    await syncPoint();
    expect(a).not.toHaveBeenCalled();
    expect(b).not.toHaveBeenCalled();
  });

  it('reads channel history', async () => {
    await expect(client.getChannelHistory('news', { limit: 2 })).resolves.toEqual({ success: true, history: ['m2', 'm1'] });
    expect(lastPayload('mesh/get-channel-history')).toEqual({ channel: 'news', limit: 2 });
  });

  it('joins and leaves rooms and reads room metadata', async () => {
    server.handlers.set('mesh/join-room', () => ({ success: true, present: [{ id: 'conn-1', metadata: null }] }));
    await expect(client.joinRoom('lobby')).resolves.toEqual({ success: true, present: [{ id: 'conn-1', metadata: null }] });
    await expect(client.leaveRoom('lobby')).resolves.toEqual({ success: true });
    await expect(client.getRoomMetadata('lobby')).resolves.toEqual({ room: 'lobby' });
  });

  it('reads and writes connection metadata with the built-in commands', async () => {
    await expect(client.getConnectionMetadata()).resolves.toEqual({ me: true });
    await expect(client.getConnectionMetadata('conn-9')).resolves.toEqual({ of: 'conn-9' });
    await expect(client.setConnectionMetadata({ nick: 'ann' }, { strategy: 'merge' })).resolves.toBe(true);
    expect(lastPayload('mesh/set-my-connection-metadata')).toEqual({ metadata: { nick: 'ann' }, options: { strategy: 'merge' } });
    await client.setConnectionMetadata({ nick: 'bob' });
    expect(lastPayload('mesh/set-my-connection-metadata')).toEqual({ metadata: { nick: 'bob' } });
  });

  it('throws MeshCommandError when a built-in command gets an error payload', async () => {
    server.handlers.set('mesh/get-connection-metadata', () => ({ error: 'Forbidden', code: 'EFORBIDDEN', name: 'ForbiddenError' }));
    const err = await client.getConnectionMetadata('conn-2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshCommandError);
    expect(err).toMatchObject({ code: 'EFORBIDDEN', name: 'ForbiddenError', command: 'mesh/get-connection-metadata' });
  });
});
