import { MeshClient } from '../../client';
import { ClientDisconnectedError, ClientNotFoundError, MeshClientService, MeshRequestTimeoutError, type MeshModuleOptions } from '../../lib';
import { RawClient } from '../support/raw-client';
import { TcpProxy } from '../support/tcp-proxy';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

/** Connections name their client id in the URL here (never do that outside a test): `?clientId=alice`. */
const clientIdFromQuery = (connection: { id: string }, request: { url?: string }) => new URL(request.url ?? '/', 'http://x').searchParams.get('clientId') ?? connection.id;

describe.each([
  ['two nodes on Redis', false],
  ['one process without Redis', true],
])('MeshClientService.invoke with retry, %s', (_label, memory) => {
  let a: TestApp;
  let b: TestApp;
  let proxy: TcpProxy;
  const clients: MeshClient[] = [];
  const raws: RawClient[] = [];
  const service = (app: TestApp) => app.app.get(MeshClientService);
  let clientId: string;
  const connectThroughProxy = async () => {
    const client = new MeshClient(proxy.url(`/mesh?clientId=${clientId}`), { reconnectInterval: 20, maxReconnectInterval: 50 });
    clients.push(client);
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    const mesh: MeshModuleOptions = { resolveClientId: clientIdFromQuery, ...(memory ? {} : { keyPrefix }) };
    a = await startApp({ memory, mesh });
    b = memory ? a : await startApp({ mesh });
  });

  afterAll(async () => {
    await a.close();
    if (b !== a) await b.close();
  });

  beforeEach(async () => {
    clientId = `client-${Math.random().toString(36).slice(2)}`;
    proxy = await TcpProxy.start(a.port);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(raws.splice(0).map((c) => c.close()));
    await proxy.close();
  });

  it("an answer lost with the connection is asked again after the client reconnects to the other node; the client's handler ran once", async () => {
    const client = await connectThroughProxy();
    let runs = 0;
    client.handle('work', (data: { n: number }) => ({ doubled: data.n * 2, run: ++runs }));
    proxy.blackHole('to-server'); // the invoke reaches the client; its answer does not come back
    const answer = service(b).invoke(clientId, 'work', { n: 21 }, { retry: true, timeoutMs: 10_000 });
    await waitFor(() => runs === 1, 5000, 'the handler to run');
    proxy.retarget(b.port);
    proxy.blackHole('none');
    proxy.cut();
    await expect(answer).resolves.toEqual({ doubled: 42, run: 1 });
    expect(runs).toBe(1);
    expect(b.mesh.getConnection(client.connectionId!)).toBeDefined();
  });

  it('without retry, the same drop fails the invoke with ClientDisconnectedError', async () => {
    const client = await connectThroughProxy();
    let runs = 0;
    client.handle('work', () => ++runs);
    proxy.blackHole('to-server');
    const answer = service(b).invoke(clientId, 'work', {}, 10_000);
    await waitFor(() => runs === 1, 5000, 'the handler to run');
    proxy.cut();
    await expect(answer).rejects.toBeInstanceOf(ClientDisconnectedError);
  });

  it('a client that does not come back within the timeout fails the invoke with MeshRequestTimeoutError', async () => {
    const client = await connectThroughProxy();
    let reached = false;
    client.handle('work', () => {
      reached = true;
      return 'never seen';
    });
    proxy.blackHole('to-server');
    const answer = service(b).invoke(clientId, 'work', {}, { retry: true, timeoutMs: 800 });
    // Close only once the invoke is in flight: closing earlier races b's registry lookup, which
    // would then (rightly) answer ClientNotFoundError instead of waiting for a reconnect.
    await waitFor(() => reached, 5000, 'the invoke to reach the client');
    await proxy.close(); // nothing reconnects
    const error = await answer.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MeshRequestTimeoutError);
    expect((error as Error).message).toContain(`Client ${clientId} did not connect again within 800 ms`);
    proxy = await TcpProxy.start(a.port); // for afterEach
  });

  it('a client id never registered fails at once with ClientNotFoundError, retry or not', async () => {
    await expect(service(b).invoke('nobody-here', 'work', {}, { retry: true, timeoutMs: 5000 })).rejects.toBeInstanceOf(ClientNotFoundError);
  });

  it('refuses an idempotencyKey the wire cannot carry', async () => {
    await expect(service(a).invoke(clientId, 'work', {}, { idempotencyKey: 'has space' })).rejects.toThrow(/idempotencyKey must be a string of 1 to 128/);
  });

  it("a client that ignores the key (a reference client) gets the invoke again with the same key, and runs it again: the guarantee needs the client's support", async () => {
    const first = await RawClient.connect(`${proxy.url()}?clientId=${clientId}`);
    raws.push(first);
    const answer = service(b).invoke(clientId, 'work', { n: 1 }, { retry: true, idempotencyKey: 'invoke-key-1', timeoutMs: 10_000 });
    const sent = await first.waitFor((f) => f.command === 'mesh/invoke');
    expect(sent.payload).toEqual({ type: 'work', data: { n: 1 }, idempotencyKey: 'invoke-key-1' });
    proxy.retarget(b.port);
    proxy.cut();
    const second = await RawClient.connect(`${proxy.url()}?clientId=${clientId}`);
    raws.push(second);
    const again = await second.waitFor((f) => f.command === 'mesh/invoke');
    expect(again.payload).toEqual(sent.payload);
    expect(again.id).not.toBe(sent.id);
    second.sendText(JSON.stringify({ id: again.id, command: 'mesh/invoke-result', payload: { result: 'ran twice' } }));
    await expect(answer).resolves.toBe('ran twice');
  });

  it('keeps the positional timeout, and sends no key without the option', async () => {
    const plain = await RawClient.connect(`${a.url}?clientId=${clientId}`);
    raws.push(plain);
    const answer = service(b).invoke(clientId, 'work', { n: 2 }, 5000);
    const sent = await plain.waitFor((f) => f.command === 'mesh/invoke');
    expect(sent.payload).toEqual({ type: 'work', data: { n: 2 } });
    plain.sendText(JSON.stringify({ id: sent.id, command: 'mesh/invoke-result', payload: { result: 'ok' } }));
    await expect(answer).resolves.toBe('ok');
  });
});
