import { IncomingMessage } from 'node:http';
import type { Connection, UpgradeRequest } from '../../lib';
import { RawClient } from '../support/raw-client';
import { startApp, uniquePrefix, type TestApp } from '../support/test-app';

/**
 * What an idle connection keeps for as long as its socket lives (bench/idle-memory.js measures the
 * bytes): not the upgrade's IncomingMessage, and no listener closures of its own.
 */
describe('what an idle connection keeps', () => {
  let t: TestApp;
  const seenByResolveClientId: UpgradeRequest[] = [];
  const clients: RawClient[] = [];

  beforeAll(async () => {
    t = await startApp({
      mesh: {
        keyPrefix: uniquePrefix(),
        resolveClientId: (connection, request) => {
          seenByResolveClientId.push(request);
          return connection.id;
        },
      },
    });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(() => t.close());

  async function connect(headers: Record<string, string> = {}): Promise<Connection> {
    const client = await RawClient.connect(`${t.url}?room=lobby&token=abc`, { headers });
    clients.push(client);
    return t.mesh.getConnection(client.connectionId!)!;
  }

  it('keeps the request line, headers and socket of the upgrade, not the IncomingMessage; resolveClientId sees the same', async () => {
    const connection = await connect({ 'user-agent': 'footprint-test', 'x-forwarded-for': '203.0.113.7' });
    const kept = connection.request;
    expect(kept).not.toBeInstanceOf(IncomingMessage);
    expect(seenByResolveClientId.at(-1)).toBe(kept);
    expect(kept).toMatchObject({ method: 'GET', url: '/mesh?room=lobby&token=abc', httpVersion: '1.1' });
    expect(kept.headers).toMatchObject({ 'user-agent': 'footprint-test', 'x-forwarded-for': '203.0.113.7', host: `127.0.0.1:${t.port}` });
    expect(kept.socket.remoteAddress).toBe('127.0.0.1');
    // The handshake's own headers served ws and nothing after it.
    for (const name of ['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions']) {
      expect(kept.headers).not.toHaveProperty(name);
    }
    // Nothing else holds the IncomingMessage in the connection's own fields.
    expect(Object.values(connection).some((value) => value instanceof IncomingMessage)).toBe(false);
  });

  it('every socket has the same listener functions: no closure per connection', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    for (const event of ['message', 'error', 'close']) {
      const mine = a.socket.listeners(event);
      expect(mine).toHaveLength(1);
      expect(b.socket.listeners(event)[0]).toBe(mine[0]);
    }
    // Before the handshake the transport guards the raw socket against errors; ws guards it after.
    expect(a.request.socket.listeners('error')).toHaveLength(1);
  });
});
