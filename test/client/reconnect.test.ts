import {
  MeshClient,
  MeshClientStatus,
  MeshClosedError,
  MeshConnectionError,
  MeshConnectionLostError,
} from '../../client';
import { nextEvent, ScriptedServer } from './support/scripted-server';

describe('MeshClient connection loss and reconnect', () => {
  let server: ScriptedServer;
  const clients: MeshClient[] = [];
  const track = (client: MeshClient) => (clients.push(client), client);

  beforeEach(async () => {
    server = await ScriptedServer.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.stop();
  });

  it('rejects in-flight commands at once with ECONNLOST when the socket drops', async () => {
    const client = track(new MeshClient(server.url, { reconnectInterval: 50 }));
    await client.connect();
    const inFlight = client.command('hang', undefined, { timeoutMs: 10000 });
    await server.waitForFrame((r) => r.frame.command === 'hang');
    const started = Date.now();
    server.dropAll();
    const err = await inFlight.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshConnectionLostError);
    expect(err).toMatchObject({ code: 'ECONNLOST', command: 'hang' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('queues commands issued while reconnecting and sends them on the new connection, after the renewals', async () => {
    const client = track(new MeshClient(server.url, { reconnectInterval: 300, maxReconnectInterval: 300 }));
    await client.connect();
    await client.joinRoom('lobby');
    const disconnected = nextEvent(client, 'disconnect');
    server.dropAll();
    await disconnected;
    expect(client.status).toBe(MeshClientStatus.RECONNECTING);
    expect(client.connectionId).toBeUndefined();
    const queued = client.command('echo', 'queued');
    await expect(queued).resolves.toBe('queued');
    expect(client.connectionId).toBe('conn-2');
    expect(server.framesOf(2).map((f) => f.command)).toEqual(['mesh/join-room', 'echo']);
  });

  it('bounds a queued command by its own timeout', async () => {
    const client = track(new MeshClient(server.url, { reconnectInterval: 5000, maxReconnectInterval: 5000 }));
    await client.connect();
    server.dropAll();
    await nextEvent(client, 'disconnect');
    await expect(client.command('echo', 'late', { timeoutMs: 100 })).rejects.toMatchObject({ code: 'ETIMEOUT' });
  });

  it('re-joins rooms and re-subscribes channels with their historyLimit before emitting reconnect', async () => {
    const client = track(new MeshClient(server.url, { reconnectInterval: 20 }));
    await client.connect();
    const news: string[] = [];
    await client.subscribe('news', (m) => news.push(m), { historyLimit: 5 });
    await client.subscribe('sports', () => undefined);
    await client.joinRoom('lobby');
    await client.joinRoom('temporary');
    await client.leaveRoom('temporary');

    const reconnected = nextEvent(client, 'reconnect');
    server.dropAll();
    await expect(reconnected).resolves.toEqual({ connectionId: 'conn-2' });

    const second = server.framesOf(2);
    expect(second).toContainEqual(expect.objectContaining({ command: 'mesh/subscribe-channel', payload: { channel: 'news', historyLimit: 5 } }));
    expect(second).toContainEqual(expect.objectContaining({ command: 'mesh/subscribe-channel', payload: { channel: 'sports' } }));
    expect(second).toContainEqual(expect.objectContaining({ command: 'mesh/join-room', payload: { roomName: 'lobby' } }));
    expect(second.filter((f) => f.command === 'mesh/join-room')).toHaveLength(1);

    server.push('mesh/subscription-message', { channel: 'news', message: 'after reconnect' });
    await client.command('echo', 'sync point');
    expect(news).toEqual(['after reconnect']);
  });

  it('a channel or room the server refuses after a reconnect is dropped and reported (MeshResubscribeError)', async () => {
    const client = track(new MeshClient(server.url, { reconnectInterval: 20 }));
    await client.connect();
    const news: string[] = [];
    await client.subscribe('news', (m) => news.push(m));
    await client.joinRoom('lobby');
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e.detail));
    // The guard changed its mind while the client was away.
    server.handlers.set('mesh/subscribe-channel', () => ({ success: false, history: [] }));
    server.handlers.set('mesh/join-room', () => ({ success: false }));
    const reconnected = nextEvent(client, 'reconnect');
    server.dropAll();
    await reconnected;
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'ResubscribeError', code: 'ERESUBSCRIBE', kind: 'channel', target: 'news' }),
        expect.objectContaining({ code: 'ERESUBSCRIBE', kind: 'room', target: 'lobby' }),
      ]),
    );
    // Dropped: a later message on it is not delivered, and the next reconnect does not ask again.
    server.push('mesh/subscription-message', { channel: 'news', message: 'not for you' });
    await client.command('echo', 'sync point');
    expect(news).toEqual([]);
    const again = nextEvent(client, 'reconnect');
    server.dropAll();
    await again;
    expect(server.framesOf(3).map((f) => f.command)).not.toContain('mesh/subscribe-channel');
    expect(server.framesOf(3).map((f) => f.command)).not.toContain('mesh/join-room');
  });

  it('retryFirstConnect: connect() keeps trying until the server is up; without it the first failure rejects', async () => {
    const port = server.port;
    await server.stop();
    const failing = track(new MeshClient(`ws://127.0.0.1:${port}/mesh`));
    await expect(failing.connect()).rejects.toBeInstanceOf(MeshConnectionError);

    const patient = track(new MeshClient(`ws://127.0.0.1:${port}/mesh`, { retryFirstConnect: true, reconnectInterval: 20, maxReconnectInterval: 50 }));
    const attempts: unknown[] = [];
    const firstFailure = new Promise<void>((resolve) => patient.on('error', (e) => (attempts.push(e.detail), resolve())));
    const connected = patient.connect();
    await firstFailure;
    expect(patient.status).toBe(MeshClientStatus.CONNECTING);
    server = await ScriptedServer.start({ port });
    await connected;
    expect(patient.status).toBe(MeshClientStatus.ONLINE);
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    await expect(patient.command('echo', 'up')).resolves.toBe('up');
  });

  it('retryFirstConnect does not retry a 4xx refusal', async () => {
    const refusing = await ScriptedServer.start({ verifyClient: (_info, done) => done(false, 401) });
    try {
      const client = track(new MeshClient(refusing.url, { retryFirstConnect: true, reconnectInterval: 20 }));
      await expect(client.connect()).rejects.toMatchObject({ code: 'ECONNECTION', status: 401 });
      expect(client.status).toBe(MeshClientStatus.OFFLINE);
    } finally {
      await refusing.stop();
    }
  });

  it('waits between attempts within the backoff bounds, then gives up after maxReconnectAttempts', async () => {
    const reconnectInterval = 40;
    const maxReconnectInterval = 200;
    const client = track(new MeshClient(server.url, { reconnectInterval, maxReconnectInterval, maxReconnectAttempts: 5 }));
    await client.connect();
    const failures: number[] = [];
    client.on('error', () => failures.push(Date.now()));
    const failed = nextEvent(client, 'reconnectfailed');
    const closed = nextEvent(client, 'close');
    const disconnected = nextEvent(client, 'disconnect');
    await server.stop();
    await disconnected;
    const droppedAt = Date.now();
    const queued = client.command('echo', 'never sent', { timeoutMs: 10000 });

    await expect(failed).resolves.toEqual({ attempts: 5 });
    await closed;
    expect(client.status).toBe(MeshClientStatus.OFFLINE);
    expect(failures).toHaveLength(5);
    // Attempt n waits at most min(cap, base * 2^n) ms; a refused localhost connect adds a few ms.
    const starts = [droppedAt, ...failures];
    failures.forEach((failedAt, n) => {
      const bound = Math.min(maxReconnectInterval, reconnectInterval * 2 ** n);
      expect(failedAt - starts[n]).toBeLessThanOrEqual(bound + 250);
    });
    const err = await queued.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshConnectionError);
    expect((err as Error).message).toContain('after 5 attempts');
    server = await ScriptedServer.start();
  });

  it('reconnects at once after a server close with 1012 (service restart)', async () => {
    const client = track(new MeshClient(server.url, { reconnectInterval: 20000, maxReconnectInterval: 20000 }));
    await client.connect();
    const reconnected = nextEvent(client, 'reconnect');
    const disconnected = nextEvent(client, 'disconnect');
    server.socket.close(1012, 'restarting');
    await expect(disconnected).resolves.toEqual({ code: 1012, reason: 'restarting' });
    await expect(reconnected).resolves.toEqual({ connectionId: 'conn-2' });
  });

  it('does not reconnect after close(), and rejects pending and later commands with ECLOSED', async () => {
    const client = track(new MeshClient(server.url, { reconnectInterval: 10 }));
    await client.connect();
    const pending = client.command('hang', undefined, { timeoutMs: 10000 });
    await server.waitForFrame((r) => r.frame.command === 'hang');
    const closeEvent = nextEvent(client, 'close');
    await client.close();
    await expect(closeEvent).resolves.toEqual({ code: 1000, reason: 'Client closed' });
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshClosedError);
    expect(err).toMatchObject({ code: 'ECLOSED' });
    await expect(client.command('echo', 'after close')).rejects.toMatchObject({ code: 'ECLOSED' });
    // A command after close() neither waits nor reconnects: the server saw one connection only.
    expect(server.connectionCount).toBe(1);
    expect(client.status).toBe(MeshClientStatus.OFFLINE);

    await client.connect();
    await expect(client.command('echo', 'reopened')).resolves.toBe('reopened');
  });

  it('goes offline without reconnecting when shouldReconnect is false', async () => {
    const client = track(new MeshClient(server.url, { shouldReconnect: false }));
    await client.connect();
    const closed = nextEvent(client, 'close');
    server.dropAll();
    await closed;
    expect(client.status).toBe(MeshClientStatus.OFFLINE);
    // It went offline at once (no reconnect scheduled: that would have kept it "reconnecting").
    expect(server.connectionCount).toBe(1);
  });

  it('rejects connect() with ECONNECTION and the HTTP status when the upgrade is refused', async () => {
    const guarded = await ScriptedServer.start({ verifyClient: (_info, done) => done(false, 401, 'Unauthorized') });
    const client = track(new MeshClient(guarded.url));
    const err = await client.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshConnectionError);
    expect(err).toMatchObject({ code: 'ECONNECTION', name: 'ConnectionError', status: 401 });
    expect(client.status).toBe(MeshClientStatus.OFFLINE);
    expect(guarded.connectionCount).toBe(0);
    await guarded.stop();
  });

  it('sends the headers option with the upgrade request (connect-time auth)', async () => {
    const guarded = await ScriptedServer.start({
      verifyClient: (info, done) => done(info.req.headers.authorization === 'Bearer good', 401),
    });
    const client = track(new MeshClient(guarded.url, { headers: { authorization: 'Bearer good' } }));
    await expect(client.connect()).resolves.toBeUndefined();
    await guarded.stop();
  });

  it('rejects connect() with ECONNECTION for a malformed URL', async () => {
    const client = track(new MeshClient('not a url'));
    const err = await client.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshConnectionError);
    expect((err as Error).message).toContain('not a url');
    expect(client.status).toBe(MeshClientStatus.OFFLINE);
  });

  it('rejects connect() with ECONNECTION when nothing listens', async () => {
    const port = server.port;
    await server.stop();
    const client = track(new MeshClient(`ws://127.0.0.1:${port}/mesh`));
    await expect(client.connect()).rejects.toMatchObject({ code: 'ECONNECTION' });
    const queuedAfter = client.command('echo', 'x');
    await expect(queuedAfter).rejects.toMatchObject({ code: 'ECONNECTION' });
    server = await ScriptedServer.start();
  });
});
