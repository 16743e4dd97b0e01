import { MeshClientService } from '../../lib';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';
import { RawClient } from '../support/raw-client';
import { RedisCluster, type ClusterServer } from '../support/redis-cluster';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

const clientIdFromQuery = (connection: { id: string }, request: { url?: string }) =>
  new URL(request.url ?? '/', 'http://x').searchParams.get('clientId') ?? connection.id;

/** The master serving a key's slot now. */
async function masterOf(cluster: RedisCluster, key: string): Promise<ClusterServer> {
  const [any] = await cluster.masters();
  const slot = Number(await any.query((r) => r.cluster('KEYSLOT', key)));
  const ranges = await any.query((r) => r.cluster('SLOTS'));
  const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
  const server = cluster.servers.find((s) => s.port === owner?.[2][1]);
  if (!server) throw new Error(`No master serves slot ${slot}`);
  return server;
}

/**
 * A 3-master cluster with a replica per master: a master is SIGKILLed, its replica is promoted,
 * and two nodes keep serving (rooms, channels, invokes, new connections) without a restart.
 */
describe('Redis Cluster failover', () => {
  let cluster: RedisCluster;
  let a: TestApp;
  let b: TestApp;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3, replicas: 1 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await a?.close();
    await b?.close();
    await cluster?.stop();
  });

  it('a master dies, its replica takes over, and the nodes keep serving without a restart', async () => {
    const keyPrefix = uniquePrefix();
    const keys = new RedisKeyLayout(keyPrefix);
    const mesh = { redis: { cluster: cluster.nodes }, keyPrefix, resolveClientId: clientIdFromQuery };
    a = await startApp({ mesh });
    b = await startApp({ mesh });
    for (const node of [a, b]) node.mesh.exposeChannel(/^news$/);
    const onA = await RawClient.connect(`${a.url}?clientId=on-a`);
    const onB = await RawClient.connect(`${b.url}?clientId=on-b`);
    clients.push(onA, onB);
    for (const c of [onA, onB]) {
      await a.mesh.addToRoom('lobby', c.connectionId!);
      expect(await c.command('mesh/subscribe-channel', { channel: 'news' })).toEqual({ success: true, history: [] });
    }

    // Replication is asynchronous: what a master had not sent on when it died is lost with it
    // (docs/scaling.md). The test kills it once its replica has everything.
    await cluster.waitForReplication();
    const victim = await masterOf(cluster, keys.roomChannel('lobby'));
    await victim.kill();
    await cluster.waitUntilHealthy(30_000);
    expect((await cluster.masters()).map((s) => s.port)).not.toContain(victim.port);

    // Room broadcasts reach both nodes' members again (those sent while the shard was down may be lost).
    let seq = 0;
    await waitFor(
      async () => {
        const n = ++seq;
        await a.mesh.broadcastRoom('lobby', 'tick', { n }).catch(() => undefined);
        const got = await Promise.all([onA, onB].map((c) => c.waitFor((f) => f.command === 'tick' && (f.payload as { n: number }).n === n, 500).then(() => true, () => false)));
        return got.every(Boolean);
      },
      20_000,
      'room broadcasts after the failover',
    );
    // Channels, invokes across nodes, and new connections joining rooms.
    await b.mesh.publish('news', 'after failover');
    for (const c of [onA, onB]) await c.waitFor((f) => f.command === 'mesh/subscription-message' && (f.payload as { message: string }).message === 'after failover');
    const late = await RawClient.connect(`${b.url}?clientId=late`);
    clients.push(late);
    await a.mesh.addToRoom('lobby', late.connectionId!);
    await b.mesh.broadcastRoom('lobby', 'welcome');
    await late.waitFor((f) => f.command === 'welcome');
    expect((await a.mesh.getRoomMembers('lobby')).sort()).toEqual([onA.connectionId, onB.connectionId, late.connectionId].sort());
    const answer = late.waitFor((f) => f.command === 'mesh/invoke').then((f) => late.sendText(JSON.stringify({ id: f.id, command: 'mesh/invoke-result', payload: { result: 'pong' } })));
    expect(await a.app.get(MeshClientService).invoke('late', 'ping', {})).toBe('pong');
    await answer;
    expect((await a.mesh.health()).status).toBe('up');
  }, 90_000);
});
