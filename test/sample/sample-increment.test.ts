import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { MeshClient } from '../../client';
import { parseClusterNodes } from '../../lib';
import { AppModule } from '../../sample-app/app.module';
import type { SampleConfig } from '../../sample-app/config';
import { NodeProcess } from '../support/node-process';
import { TcpProxy } from '../support/tcp-proxy';
import { adminRedis, clusterNodesText, onCluster, redisUrl, uniquePrefix, waitFor } from '../support/test-app';

const sharedState = (): Partial<SampleConfig> => (onCluster() ? { redisClusterNodes: parseClusterNodes(clusterNodesText()) } : { redisUrl: redisUrl() });

async function startSample(config: Partial<SampleConfig>): Promise<{ app: INestApplication; port: number }> {
  const app = await NestFactory.create(AppModule.forConfig({ port: 0, prefix: 'mesh', premiumUsers: [], sessionSecret: 'a test secret of at least thirty-two bytes', ...config }), { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, port: (app.getHttpServer().address() as AddressInfo).port };
}

describe('sample app: increment runs once per retried command', () => {
  const keyPrefix = uniquePrefix();
  let one: { app: INestApplication; port: number };
  let two: { app: INestApplication; port: number };
  let proxy: TcpProxy;
  let client: MeshClient;
  let redis: ReturnType<typeof adminRedis>;

  beforeAll(async () => {
    // Made here, not at describe level: a run that skips these tests (-t) never closes it, and Jest would not exit.
    redis = adminRedis();
    one = await startSample({ ...sharedState(), keyPrefix });
    two = await startSample({ ...sharedState(), keyPrefix });
  });

  afterAll(async () => {
    redis.disconnect();
    await one.app.close();
    await two.app.close();
  });

  beforeEach(async () => {
    proxy = await TcpProxy.start(one.port);
    client = new MeshClient(proxy.url(), { reconnectInterval: 20, maxReconnectInterval: 50 });
    await client.connect();
  });

  afterEach(async () => {
    await client.close();
    await proxy.close();
  });

  it('a reply black-holed, then retried after a reconnect to the other node: the counter moved by one and the retry got the first value', async () => {
    const counter = `demo-${Date.now()}`;
    const key = `${keyPrefix}sample:counter:${counter}`;
    expect(await client.command('increment', { key: counter })).toEqual({ value: 1 }); // without retry: an ordinary increment
    proxy.blackHole('to-client');
    const reply = client.command('increment', { key: counter }, { retry: true, timeoutMs: 10_000 });
    await waitFor(async () => (await redis.get(key)) === '2', 5000, 'the first run to increment');
    proxy.retarget(two.port);
    proxy.blackHole('none');
    proxy.cut();
    await expect(reply).resolves.toEqual({ value: 2 });
    expect(await redis.get(key)).toBe('2');
    expect(proxy.connectionsAccepted).toBe(2);
    // The counter is shared by the nodes: the next increment, on the other node, counts on.
    expect(await client.command('increment', { key: counter }, { retry: true })).toEqual({ value: 3 });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
  });

  it('validates the counter name', async () => {
    for (const key of ['', 'UPPER', 'a'.repeat(65), 42, undefined]) {
      expect(await client.command('increment', { key }, { retry: true })).toMatchObject({ code: 'EINVALID', details: ['key must be 1 to 64 characters: a-z, 0-9 and "-"'] });
    }
  });
});

describe('sample app without Redis: increment', () => {
  let sample: { app: INestApplication; port: number };

  beforeAll(async () => {
    sample = await startSample({});
  });

  afterAll(() => sample.app.close());

  it('counts in the process and runs once per key', async () => {
    const client = new MeshClient(`ws://127.0.0.1:${sample.port}/mesh`);
    await client.connect();
    try {
      const options = { idempotencyKey: `memory-${Date.now()}-0123456789` };
      expect(await client.command('increment', { key: 'local' }, options)).toEqual({ value: 1 });
      expect(await client.command('increment', { key: 'local' }, options)).toEqual({ value: 1 });
      expect(await client.command('increment', { key: 'local' })).toEqual({ value: 2 });
    } finally {
      await client.close();
    }
  });
});

describe('sample app as a process: commandSync with an idempotency key', () => {
  let node: NodeProcess;

  beforeAll(async () => {
    node = await NodeProcess.start({ keyPrefix: uniquePrefix() });
  });

  afterAll(() => node.stop());

  it('runs the command once for two blocking calls with one key', async () => {
    const client = new MeshClient(node.url);
    await client.connect();
    try {
      const options = { idempotencyKey: `sync-${Date.now()}-0123456789` };
      expect(client.commandSync('increment', { key: 'sync' }, options)).toEqual({ value: 1 });
      expect(client.commandSync('increment', { key: 'sync' }, options)).toEqual({ value: 1 });
      expect(client.commandSync('increment', { key: 'sync' })).toEqual({ value: 2 });
    } finally {
      await client.close();
    }
  });
});
