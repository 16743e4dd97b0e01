import { MeshClient } from '../../client';
import { nextEvent, ScriptedServer } from './support/scripted-server';

describe('MeshClient heartbeat', () => {
  let server: ScriptedServer;
  let client: MeshClient;

  beforeEach(async () => {
    server = await ScriptedServer.start();
  });

  afterEach(async () => {
    await client.close();
    await server.stop();
  });

  it('answers ping with a pong frame (id, no reply expected) and emits ping', async () => {
    client = new MeshClient(server.url);
    await client.connect();
    const ping = nextEvent(client, 'ping');
    server.push('ping', {});
    await expect(ping).resolves.toEqual({});
    const { frame } = await server.waitForFrame((r) => r.frame.command === 'pong');
    expect(frame).toEqual({ id: expect.any(Number), command: 'pong', payload: {} });
  });

  it('answers latency:request with latency:response carrying the same payload', async () => {
    client = new MeshClient(server.url);
    await client.connect();
    server.push('latency:request', { sentAt: 1234 });
    const { frame } = await server.waitForFrame((r) => r.frame.command === 'latency:response');
    expect(frame).toEqual({ id: expect.any(Number), command: 'latency:response', payload: { sentAt: 1234 } });
  });

  it('emits latency with detail.latency = the number the server sent', async () => {
    client = new MeshClient(server.url);
    await client.connect();
    const latency = nextEvent(client, 'latency');
    server.push('latency', 42);
    await expect(latency).resolves.toEqual({ latency: 42 });
  });

  it('forces a reconnect after more than maxMissedPings silent windows', async () => {
    client = new MeshClient(server.url, { pingTimeout: 100, maxMissedPings: 1, reconnectInterval: 10 });
    await client.connect();
    const started = Date.now();
    const disconnected = nextEvent(client, 'disconnect');
    const reconnected = nextEvent(client, 'reconnect');
    await expect(disconnected).resolves.toMatchObject({ code: 1006, reason: 'No ping from the server' });
    // (maxMissedPings + 1) silent windows of 100 ms must pass first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    await expect(reconnected).resolves.toEqual({ connectionId: 'conn-2' });
  });

  it('stays connected when every ping comes late, as long as no silence outlasts (maxMissedPings + 1) windows', async () => {
    // Pings 1.5 windows apart: a watchdog counting window ends sees two in one gap half the time.
    client = new MeshClient(server.url, { pingTimeout: 200, maxMissedPings: 1 });
    await client.connect();
    let disconnects = 0;
    client.on('disconnect', () => disconnects++);
    const pinger = setInterval(() => server.push('ping', {}), 300);
    let pings = 0;
    await new Promise<void>((resolve) => client.on('ping', () => ++pings === 6 && resolve()));
    clearInterval(pinger);
    expect(disconnects).toBe(0);
    expect(server.connectionCount).toBe(1);
  });

  it('stays connected while the server pings within pingTimeout', async () => {
    client = new MeshClient(server.url, { pingTimeout: 100, maxMissedPings: 1 });
    await client.connect();
    let disconnects = 0;
    client.on('disconnect', () => disconnects++);
    const pinger = setInterval(() => server.push('ping', {}), 40);
    // Ten pings take four pingTimeout windows: a client that missed them would have dropped.
    let pings = 0;
    await new Promise<void>((resolve) => client.on('ping', () => ++pings === 10 && resolve()));
    clearInterval(pinger);
    expect(disconnects).toBe(0);
    expect(server.connectionCount).toBe(1);
  });
});
