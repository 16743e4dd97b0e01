import { MeshClient, type PresenceUpdate, type RecordUpdate } from '../../client';
import { NodeProcess } from '../support/node-process';
import { uniquePrefix, waitFor } from '../support/test-app';

/**
 * A client whose socket lives in a worker thread (after `commandSync`) renews its record and
 * presence subscriptions after a reconnect too. The sample app runs in its own process (a
 * blocking call would block a server in this one) and is restarted on its port; records are in
 * Redis, so they outlive it.
 */
describe('MeshClient in a worker thread: records and presence renewed after a reconnect', () => {
  const keyPrefix = uniquePrefix();
  const FAST = { MESH_NODE_HEARTBEAT_INTERVAL: '200', MESH_NODE_TTL: '1500' };
  let node: NodeProcess;
  const clients: MeshClient[] = [];

  beforeAll(async () => {
    node = await NodeProcess.start({ keyPrefix, env: FAST });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await node?.stop();
  });

  it('gets the next version of a record and presence updates from the restarted node', async () => {
    const watcher = new MeshClient(node.url, { syncCommands: true, reconnectInterval: 20, maxReconnectInterval: 100 });
    clients.push(watcher);
    await watcher.connect();
    expect(watcher.commandSync('echo', 'moved')).toBe('echo: moved'); // the socket is in the worker now
    const values: unknown[] = [];
    const presence: PresenceUpdate[] = [];
    await watcher.subscribeRecord('doc:worker', (u: RecordUpdate) => void values.push(u.value), { mode: 'patch' });
    await watcher.joinRoom('lobby');
    await watcher.subscribePresence('lobby', (u) => void presence.push(u));

    const reconnected = new Promise((resolve) => watcher.once('reconnect', resolve));
    const port = node.port;
    await node.stop('SIGKILL');
    node = await NodeProcess.start({ keyPrefix, port, env: FAST });
    await reconnected;

    const writer = new MeshClient(await node.urlAs('ada'));
    clients.push(writer);
    await writer.connect();
    await waitFor(async () => {
      await writer.writeRecord('doc:worker', { n: values.length });
      return values.some((v) => v !== null);
    }, 10_000, 'a write after the reconnect to reach the worker client');
    await writer.joinRoom('lobby');
    await waitFor(() => presence.some((u) => u.type === 'join' && u.connectionId === writer.connectionId), 10_000, "the writer's join in presence");
    expect(watcher.commandSync('echo', 'still there')).toBe('echo: still there');
  }, 40_000);
});
