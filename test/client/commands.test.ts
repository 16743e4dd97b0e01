import {
  MeshClient,
  MeshClientStatus,
  MeshCommandError,
  MeshTimeoutError,
  type ErrorPayload,
  type Frame,
} from '../../client';
import { ScriptedServer, sleep } from './support/scripted-server';

type Commands = {
  echo: { payload: string; result: string };
  fail: { payload: undefined; result: never };
  hang: { payload: undefined; result: never };
  slow: { payload: { ms: number; value: string }; result: string };
};

describe('MeshClient commands', () => {
  let server: ScriptedServer;
  let client: MeshClient<Commands>;

  beforeEach(async () => {
    server = await ScriptedServer.start();
    server.handlers.set('slow', async ({ ms, value }) => {
      await sleep(ms);
      return value;
    });
    client = new MeshClient<Commands>(server.url, { shouldReconnect: false });
  });

  afterEach(async () => {
    await client.close();
    await server.stop();
  });

  it('resolves connect() only after the server assigns an id, and shares one promise', async () => {
    const silent = await ScriptedServer.start({ assignId: false });
    const waiting = new MeshClient(silent.url, { shouldReconnect: false });
    let settled = false;
    const first = waiting.connect();
    void first.then(() => (settled = true));
    expect(waiting.connect()).toBe(first);
    await silent.waitForConnections(1);
    // A push before the id: once the client has handled it, connect() would have settled if it were going to.
    const pinged = new Promise((resolve) => waiting.once('ping', resolve));
    silent.send(silent.socket, { command: 'ping', payload: {} });
    await pinged;
    expect(settled).toBe(false);
    expect(waiting.status).toBe(MeshClientStatus.CONNECTING);

    silent.send(silent.socket, { command: 'mesh/assign-id', payload: 'late-id' });
    await first;
    expect(waiting.connectionId).toBe('late-id');
    expect(waiting.status).toBe(MeshClientStatus.ONLINE);
    await waiting.close();
    await silent.stop();
  });

  it('round-trips a command with a numeric id and the payload', async () => {
    await client.connect();
    expect(client.connectionId).toBe('conn-1');
    await expect(client.command('echo', 'hello')).resolves.toBe('hello');
    const { frame } = await server.waitForFrame((r) => r.frame.command === 'echo');
    expect(typeof frame.id).toBe('number');
    expect(frame.payload).toBe('hello');
  });

  it('sends {} when no payload is given', async () => {
    await client.connect();
    server.handlers.set('probe', (payload) => payload);
    await expect((client as MeshClient).command('probe')).resolves.toEqual({});
  });

  it('resolves with an error payload, and throws MeshCommandError with throwOnError', async () => {
    await client.connect();
    const reply: unknown = await client.command('fail');
    expect(reply).toEqual({ error: 'boom', code: 'EBOOM', name: 'Error' });

    server.handlers.set('invalid', () => ({ error: 'Bad payload', code: 'EINVALID', name: 'ValidationError', details: ['x is required'] }));
    const err = await (client as MeshClient).command('invalid', {}, { throwOnError: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshCommandError);
    expect(err).toMatchObject({ code: 'EINVALID', name: 'ValidationError', message: 'Bad payload', details: ['x is required'], command: 'invalid' });
  });

  it('rejects with a typed timeout error that names the command', async () => {
    await client.connect();
    const started = Date.now();
    const err = await client.command('hang', undefined, { timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshTimeoutError);
    expect(err).toMatchObject({ code: 'ETIMEOUT', name: 'TimeoutError', command: 'hang', timeoutMs: 150 });
    expect((err as Error).message).toBe('Command "hang" timed out after 150ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    // A late reply for the expired id is ignored.
    const { frame } = await server.waitForFrame((r) => r.frame.command === 'hang');
    server.send(server.socket, { id: frame.id, command: 'hang', payload: 'late' });
    await expect(client.command('echo', 'still fine')).resolves.toBe('still fine');
  });

  it('matches concurrent replies by id when they arrive out of order', async () => {
    await client.connect();
    const order: string[] = [];
    const calls = [
      client.command('slow', { ms: 200, value: 'a' }, { throwOnError: true }).then((v) => (order.push(v), v)),
      client.command('slow', { ms: 100, value: 'b' }, { throwOnError: true }).then((v) => (order.push(v), v)),
      client.command('slow', { ms: 0, value: 'c' }, { throwOnError: true }).then((v) => (order.push(v), v)),
    ];
    await expect(Promise.all(calls)).resolves.toEqual(['a', 'b', 'c']);
    expect(order).toEqual(['c', 'b', 'a']);
    const ids = server.framesOf(1).filter((f) => f.command === 'slow').map((f) => f.id);
    expect(new Set(ids).size).toBe(3);
  });

  it('starts connecting when a command is issued on a fresh client', async () => {
    await expect(client.command('echo', 'auto')).resolves.toBe('auto');
    expect(client.status).toBe(MeshClientStatus.ONLINE);
  });

  it('emits pushes as events with the payload as detail, and every frame as message', async () => {
    await client.connect();
    const messages: Frame[] = [];
    client.on('message', (e) => messages.push(e.detail));
    const joined = new Promise<{ id: string }>((resolve) => client.once<{ id: string }>('user-joined', (e) => resolve(e.detail)));
    server.push('user-joined', { id: 'u1' });
    await expect(joined).resolves.toEqual({ id: 'u1' });
    expect(messages).toContainEqual({ command: 'user-joined', payload: { id: 'u1' } });
  });

  it('off() removes a listener', async () => {
    await client.connect();
    const seen: unknown[] = [];
    const listener = (e: { detail: unknown }) => seen.push(e.detail);
    client.on('note', listener);
    server.push('note', 1);
    await client.command('echo', 'sync point');
    client.off('note', listener);
    server.push('note', 2);
    await client.command('echo', 'sync point');
    expect(seen).toEqual([1]);
  });

  it('uses the prefix option for built-in commands (rt)', async () => {
    const rt = await ScriptedServer.start({ prefix: 'rt' });
    const rtClient = new MeshClient(rt.url, { prefix: 'rt', shouldReconnect: false });
    await rtClient.connect();
    expect(rtClient.connectionId).toBe('conn-1');
    const messages: string[] = [];
    await expect(rtClient.subscribe('news', (m) => messages.push(m))).resolves.toEqual({ success: true, history: ['m2', 'm1'] });
    await rtClient.joinRoom('lobby');
    rt.push('rt/subscription-message', { channel: 'news', message: 'hello' });
    await rtClient.command('echo', 'sync point');
    expect(messages).toEqual(['hello']);
    expect(rt.framesOf(1).map((f) => f.command)).toEqual(expect.arrayContaining(['rt/subscribe-channel', 'rt/join-room']));
    await rtClient.close();
    await rt.stop();
  });

  it('types commands from the command map', async () => {
    await client.connect();
    const echoed: string | ErrorPayload = await client.command('echo', 'typed');
    const strict: string = await client.command('echo', 'typed', { throwOnError: true });
    expect([echoed, strict]).toEqual(['typed', 'typed']);
    // @ts-expect-error payload of "echo" is a string
    await client.command('echo', 42).catch(() => undefined);
  });
});
