import { MeshClient, MeshClosedError, MeshConnectionLostError } from '../../client';
import { InvokeHandlers } from '../../client/invoke-handlers';
import { waitFor } from '../support/test-app';
import { nextEvent, NO_REPLY, ScriptedServer } from './support/scripted-server';

/** The client side of commands that run once: keys on the wire, re-sends after a reconnect, remembered invokes. */
describe('MeshClient commands with retry or an idempotency key', () => {
  let server: ScriptedServer;
  const clients: MeshClient[] = [];
  const track = (client: MeshClient) => (clients.push(client), client);
  const fast = { reconnectInterval: 20, maxReconnectInterval: 50 };

  beforeEach(async () => {
    server = await ScriptedServer.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.stop();
  });

  it('sends a command in flight when the connection dropped again after the reconnect, with the same key, and resolves with that reply', async () => {
    let calls = 0;
    // The first connection never answers; the second does.
    server.handlers.set('pay', (payload) => (++calls === 1 ? NO_REPLY : { paid: payload.amount }));
    const client = track(new MeshClient(server.url, fast));
    await client.connect();
    const reply = client.command('pay', { amount: 5 }, { retry: true, timeoutMs: 10_000 });
    await server.waitForFrame((r) => r.frame.command === 'pay');
    server.dropAll();
    await expect(reply).resolves.toEqual({ paid: 5 });
    const [first, second] = server.received.filter((r) => r.frame.command === 'pay');
    expect(first.connection).toBe(1);
    expect(second.connection).toBe(2);
    expect(typeof first.frame.idempotencyKey).toBe('string');
    expect(first.frame.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.frame.idempotencyKey).toBe(first.frame.idempotencyKey);
    expect(second.frame.payload).toEqual({ amount: 5 });
  });

  it('sends the key it was given, and a new random one for each call with retry', async () => {
    const client = track(new MeshClient(server.url));
    await client.connect();
    await client.command('echo', 1, { idempotencyKey: 'order-42' });
    await client.command('echo', 2, { retry: true });
    await client.command('echo', 3, { retry: true });
    const keys = server.received.filter((r) => r.frame.command === 'echo').map((r) => r.frame.idempotencyKey);
    expect(keys[0]).toBe('order-42');
    expect(keys[1]).not.toBe(keys[2]);
  });

  it('without the option sends no key, and a drop rejects the command with ECONNLOST as before', async () => {
    const client = track(new MeshClient(server.url, fast));
    await client.connect();
    const reply = client.command('hang', {});
    await server.waitForFrame((r) => r.frame.command === 'hang');
    expect('idempotencyKey' in server.received.find((r) => r.frame.command === 'hang')!.frame).toBe(false);
    server.dropAll();
    await expect(reply).rejects.toBeInstanceOf(MeshConnectionLostError);
  });

  it('fails commands without a key at the drop, and re-sends those with one, in the order they were sent', async () => {
    const client = track(new MeshClient(server.url, fast));
    await client.connect();
    const plain = client.command('hang', 'plain');
    const one = client.command('hang', 'one', { idempotencyKey: 'key-1' });
    const two = client.command('hang', 'two', { idempotencyKey: 'key-2' });
    await server.waitForFrame((r) => r.frame.payload === 'two');
    server.dropAll();
    await expect(plain).rejects.toBeInstanceOf(MeshConnectionLostError);
    await server.waitForConnections(2);
    await server.waitForFrame((r) => r.connection === 2 && r.frame.payload === 'two');
    expect(server.framesOf(2).filter((f) => f.command === 'hang').map((f) => f.idempotencyKey)).toEqual(['key-1', 'key-2']);
    const closed = Promise.all([expect(one).rejects.toBeInstanceOf(MeshClosedError), expect(two).rejects.toBeInstanceOf(MeshClosedError)]);
    await client.close();
    await closed;
  });

  it('counts the timeout from the call, across the reconnect', async () => {
    const client = track(new MeshClient(server.url, fast));
    await client.connect();
    const reply = client.command('hang', {}, { retry: true, timeoutMs: 300 });
    await server.waitForFrame((r) => r.frame.command === 'hang');
    server.dropAll();
    await server.waitForFrame((r) => r.connection === 2 && r.frame.command === 'hang');
    await expect(reply).rejects.toMatchObject({ code: 'ETIMEOUT', timeoutMs: 300 });
  });

  it('rejects with ECONNLOST when it will not reconnect (superseded, 4001)', async () => {
    const client = track(new MeshClient(server.url, fast));
    await client.connect();
    const reply = client.command('hang', {}, { retry: true });
    await server.waitForFrame((r) => r.frame.command === 'hang');
    const closed = nextEvent(client, 'close');
    server.socket.close(4001, 'Connected again elsewhere');
    await closed;
    await expect(reply).rejects.toBeInstanceOf(MeshConnectionLostError);
  });

  it('refuses a key the server would refuse with a TypeError, before sending anything', async () => {
    const client = track(new MeshClient(server.url));
    await client.connect();
    for (const bad of ['', 'has space', 'k'.repeat(129), 42 as unknown as string]) {
      await expect(client.command('echo', 1, { idempotencyKey: bad })).rejects.toThrow(/idempotencyKey must be a string of 1 to 128 visible ASCII characters/);
    }
    expect(server.received.filter((r) => r.frame.command === 'echo')).toHaveLength(0);
  });
});

describe('MeshClient server invokes with an idempotency key', () => {
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

  const invoke = (id: string, type: string, data: unknown, idempotencyKey?: string) =>
    server.send(server.socket, { id, command: 'mesh/invoke', payload: idempotencyKey === undefined ? { type, data } : { type, data, idempotencyKey } });
  const answerTo = (id: string) => server.waitForFrame((r) => r.frame.command === 'mesh/invoke-result' && r.frame.id === id).then((r) => r.frame.payload);

  it('answers a repeat of an answered invoke with the same answer, without running the handler again', async () => {
    let runs = 0;
    client.handle('charge', (data: { amount: number }) => ({ charged: data.amount, run: ++runs }));
    invoke('inv-1', 'charge', { amount: 3 }, 'k-1');
    expect(await answerTo('inv-1')).toEqual({ result: { charged: 3, run: 1 } });
    invoke('inv-2', 'charge', { amount: 3 }, 'k-1');
    expect(await answerTo('inv-2')).toEqual({ result: { charged: 3, run: 1 } });
    expect(runs).toBe(1);
  });

  it('makes a repeat that arrives while the handler still runs wait for it', async () => {
    let release!: () => void;
    let runs = 0;
    client.handle('slow', async () => {
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
      return 'done';
    });
    invoke('inv-1', 'slow', {}, 'k-slow');
    await waitFor(() => runs === 1, 5000, 'the handler to start');
    invoke('inv-2', 'slow', {}, 'k-slow');
    // The client reads frames in order: once it answered this ping, it has seen the repeat.
    server.push('ping', {});
    await server.waitForFrame((r) => r.frame.command === 'pong');
    release();
    expect(await answerTo('inv-1')).toEqual({ result: 'done' });
    expect(await answerTo('inv-2')).toEqual({ result: 'done' });
    expect(runs).toBe(1);
  });

  it('runs every invoke without a key, as before', async () => {
    let runs = 0;
    client.handle('count', () => ++runs);
    invoke('inv-1', 'count', {});
    invoke('inv-2', 'count', {});
    expect(await answerTo('inv-1')).toEqual({ result: 1 });
    expect(await answerTo('inv-2')).toEqual({ result: 2 });
  });
});

describe('InvokeHandlers memory', () => {
  it('remembers at most memorySize keys, the oldest forgotten first', async () => {
    const handlers = new InvokeHandlers(2, 60_000);
    let runs = 0;
    handlers.set('t', () => ++runs);
    await handlers.run('t', null, 'a');
    await handlers.run('t', null, 'b');
    await handlers.run('t', null, 'c'); // forgets a
    expect(await handlers.run('t', null, 'b')).toEqual({ result: 2 });
    expect(await handlers.run('t', null, 'a')).toEqual({ result: 4 });
    expect(runs).toBe(4);
  });

  it('forgets a key after memoryMs', async () => {
    const handlers = new InvokeHandlers(10, 50);
    let runs = 0;
    handlers.set('t', () => ++runs);
    const firstAt = Date.now();
    expect(await handlers.run('t', null, 'a')).toEqual({ result: 1 });
    expect(await handlers.run('t', null, 'a')).toEqual({ result: 1 });
    // An age limit: only the clock can pass it.
    await waitFor(() => Date.now() - firstAt > 60, 1000, 'memoryMs to pass');
    expect(await handlers.run('t', null, 'a')).toEqual({ result: 2 });
  });

  it('does not answer an invoke of another type from a remembered key', async () => {
    const handlers = new InvokeHandlers();
    handlers.set('x', () => 'x');
    handlers.set('y', () => 'y');
    expect(await handlers.run('x', null, 'same')).toEqual({ result: 'x' });
    expect(await handlers.run('y', null, 'same')).toEqual({ result: 'y' });
  });
});
