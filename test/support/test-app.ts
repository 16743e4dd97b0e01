import { Logger, type DynamicModule, type INestApplication, type ModuleMetadata, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { MeshModule, MeshServer, parseClusterNodes, type MeshModuleOptions, type MeshRedisOption } from '../../lib';
import { RedisKeyLayout } from '../../lib/state/redis/key-layout';

Logger.overrideLogger(process.env.MESH_TEST_LOGS ? ['log', 'error', 'warn', 'debug'] : false);

/** The Redis every test suite shares (a private redis-server from global setup, or REDIS_URL). */
export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run the tests through jest (global setup starts redis-server)');
  return url;
}

/**
 * Which Redis the suites run on: standalone (`redisUrl()`), or, in the jest project that sets
 * MESH_TEST_TOPOLOGY=cluster, the private Redis Cluster its global setup started.
 */
export function onCluster(): boolean {
  return process.env.MESH_TEST_TOPOLOGY === 'cluster';
}

/** The cluster's nodes as `host:port,...` (cluster project only). */
export function clusterNodesText(): string {
  const nodes = process.env.MESH_TEST_CLUSTER_NODES;
  if (!nodes) throw new Error('MESH_TEST_CLUSTER_NODES is not set: the global setup of the cluster project starts the cluster');
  return nodes;
}

/** The `redis` option for MeshModule on the suite's topology. */
export function redisOption(): MeshRedisOption {
  return onCluster() ? { cluster: parseClusterNodes(clusterNodesText()) } : redisUrl();
}

/**
 * A client to look at or change Redis directly, on the suite's topology (an ioredis Cluster
 * has the same command methods). Keys of a whole-keyspace scan: `scanKeys`.
 */
export function adminRedis(): Redis {
  if (!onCluster()) return new Redis(redisUrl());
  return new Cluster(parseClusterNodes(clusterNodesText())) as unknown as Redis;
}

/** Every key matching a pattern, on every master of a cluster or on the one Redis. */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found = await Promise.all(masters(redis).map((node) => node.keys(pattern)));
  return found.flat();
}

/** `CLIENT KILL TYPE pubsub` on every master: every node's subscription connection drops (and ioredis reconnects it). */
export async function killSubscriptions(redis: Redis): Promise<number> {
  const killed = await Promise.all(masters(redis).map((node) => node.call('CLIENT', 'KILL', 'TYPE', 'pubsub')));
  return killed.reduce<number>((sum, n) => sum + Number(n), 0);
}

function masters(redis: Redis): Redis[] {
  const client = redis as Redis | Cluster;
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/**
 * How many nodes listen to a channel: classic pub/sub on one Redis; on a cluster, where the
 * nodes subscribe sharded channels, the shard owning it counts (the others report 0).
 */
export async function channelSubscribers(redis: Redis, channel: string): Promise<number> {
  const subcommand = onCluster() ? 'SHARDNUMSUB' : 'NUMSUB';
  const counts = await Promise.all(masters(redis).map(async (node) => Number(((await node.call('PUBSUB', subcommand, channel)) as [string, number])[1])));
  return counts.reduce((a, b) => a + b, 0);
}

/** A message from outside the nodes, as an app would publish it: SPUBLISH on a cluster. */
export async function publishFromOutside(redis: Redis, channel: string, message: string): Promise<void> {
  if (onCluster()) await redis.spublish(channel, message);
  else await redis.publish(channel, message);
}

/**
 * Lists node ids as live cluster members with no process behind them (a heartbeat an hour
 * away), for suites that name nodes themselves: whole-cluster reads (counts, client lists) go
 * through the listed nodes.
 */
export async function listNodes(redis: Redis, keyPrefix: string, nodeIds: string[]): Promise<void> {
  await redis.zadd(new RedisKeyLayout(keyPrefix).nodes, ...nodeIds.flatMap((id) => [Date.now() + 3_600_000, id]));
}

/**
 * Subscribes from outside the nodes, as anything that can reach Redis could (sharded on a
 * cluster). Resolves once subscribed, with a function that closes the connection.
 */
export async function subscribeFromOutside(channel: string, onMessage: (message: string) => void): Promise<() => void> {
  if (onCluster()) {
    const cluster = new Cluster(parseClusterNodes(clusterNodesText()), { shardedSubscribers: true });
    cluster.on('smessage', (_channel: string, message: string) => onMessage(message));
    await cluster.ssubscribe(channel);
    return () => cluster.disconnect();
  }
  const redis = new Redis(redisUrl());
  redis.on('message', (_channel: string, message: string) => onMessage(message));
  await redis.subscribe(channel);
  return () => redis.disconnect();
}

/** A key prefix no other suite or test uses, so suites never see each other's keys. */
export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}:`;
}

export interface TestApp {
  app: INestApplication;
  mesh: MeshServer;
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface TestAppOptions extends Pick<ModuleMetadata, 'controllers' | 'providers' | 'imports'> {
  /** Options for MeshModule.forRoot; `redis` and `keyPrefix` are filled in unless `memory` is set. */
  mesh?: MeshModuleOptions;
  /** Use the in-process store (no Redis). */
  memory?: boolean;
  /** A custom MeshModule import (e.g. forRootAsync) instead of forRoot(mesh). */
  meshModule?: DynamicModule;
  /** Listen on this port instead of a free one (to restart a node in place). */
  port?: number;
  /** Runs on the app before init (global pipes, adapters...). */
  configure?: (app: INestApplication) => void;
}

/** A real Nest app with MeshModule listening on a free port on loopback. */
export async function startApp(options: TestAppOptions = {}): Promise<TestApp> {
  const meshOptions: MeshModuleOptions = options.memory ? { ...options.mesh } : { redis: redisOption(), ...options.mesh };
  const meshModule = options.meshModule ?? MeshModule.forRoot(meshOptions);
  const moduleRef = await Test.createTestingModule({
    imports: [meshModule, ...(options.imports ?? [])],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  options.configure?.(app);
  try {
    await app.listen(options.port ?? 0, '127.0.0.1');
  } catch (error) {
    // A failed start-up does not run shutdown hooks by itself: release what did start.
    await app.close().catch(() => undefined);
    throw error;
  }
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const path = meshOptions.path ?? '/mesh';
  return {
    app,
    mesh: app.get(MeshServer),
    port,
    url: `ws://127.0.0.1:${port}${path}`,
    close: () => app.close(),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a truthy value or the time runs out. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export type { Type };
