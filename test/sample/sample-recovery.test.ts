import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { MeshClient } from '../../client';
import { parseClusterNodes } from '../../lib';
import { AppModule } from '../../sample-app/app.module';
import type { SampleConfig } from '../../sample-app/config';
import { cutAndHold, RECONNECT_FAST } from '../support/recovery';
import { TcpProxy } from '../support/tcp-proxy';
import { clusterNodesText, onCluster, redisUrl, uniquePrefix, waitFor } from '../support/test-app';

const SECRET = 'a test secret of at least thirty-two bytes';

/** The sample on two nodes: what a client missed on `feed:*` and in `lobby` while away comes back on the other node. */
describe('sample app: recoverable feed and lobby across two nodes', () => {
  const apps: INestApplication[] = [];
  const clients: MeshClient[] = [];
  let ports: number[];
  let proxy: TcpProxy;

  async function startNode(keyPrefix: string): Promise<number> {
    const shared: Partial<SampleConfig> = onCluster() ? { redisClusterNodes: parseClusterNodes(clusterNodesText()) } : { redisUrl: redisUrl() };
    const app = await NestFactory.create(AppModule.forConfig({ port: 0, prefix: 'mesh', keyPrefix, premiumUsers: [], sessionSecret: SECRET, ...shared }), { logger: false });
    await app.listen(0, '127.0.0.1');
    apps.push(app);
    return (app.getHttpServer().address() as AddressInfo).port;
  }

  async function connectAs(userId: string, port: number, via?: TcpProxy): Promise<MeshClient> {
    const response = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ userId }) });
    const { token } = (await response.json()) as { token: string };
    const base = via ? via.url() : `ws://127.0.0.1:${port}/mesh`;
    const client = new MeshClient(`${base}?token=${encodeURIComponent(token)}`, RECONNECT_FAST);
    clients.push(client);
    await client.connect();
    return client;
  }

  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    ports = [await startNode(keyPrefix), await startNode(keyPrefix)];
    proxy = await TcpProxy.start(ports[0]);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await proxy.close();
    await Promise.all(apps.map((app) => app.close()));
  });

  it('a reader cut off from node 1 gets the feed messages and lobby events it missed when it comes back on node 2', async () => {
    const alice = await connectAs('alice', ports[0], proxy);
    const bob = await connectAs('bob', ports[1]);
    const feed: string[] = [];
    const joined: unknown[] = [];
    const recovered: unknown[] = [];
    alice.on('user-joined', (e) => void joined.push((e.detail as { userId: string }).userId));
    alice.on('subscription-recovered', (e) => void recovered.push(e.detail));
    expect(await alice.subscribe('feed:news', (m) => void feed.push((JSON.parse(m) as { text: string }).text))).toMatchObject({ success: true });
    expect(await alice.joinRoom('lobby')).toMatchObject({ success: true });

    const back = await cutAndHold(alice, proxy);
    expect(await bob.command('publish', { channel: 'feed:news', message: 'while you were away' })).toEqual({ success: true });
    expect(await bob.command('join-room', { roomName: 'lobby' })).toEqual({ success: true });

    await back(ports[1]);
    await waitFor(() => recovered.length === 2, 5000, 'both recoveries reported');
    expect(feed).toEqual(['while you were away']);
    expect(joined).toEqual(['bob']);
    expect(recovered).toEqual(expect.arrayContaining([
      { channel: 'feed:news', recovered: true, missed: 1 },
      { room: 'lobby', recovered: true, missed: 1 },
    ]));
  });
});
