import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis-server';

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${out}`));
    });
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One `redis-server --cluster-enabled yes` of a private cluster. */
export class ClusterServer {
  child?: ChildProcess;

  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port', String(this.port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${this.port}.conf`,
        '--cluster-node-timeout', '1000', '--repl-diskless-sync-delay', '0', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--logfile', `redis-${this.port}.log`, '--loglevel', 'notice',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await until(async () => this.query((r) => r.ping()).then((pong) => pong === 'PONG'), 10_000, `node ${this.port} did not answer`);
  }

  /** A short-lived plain connection to this node alone. */
  async query<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, disconnectTimeout: 50 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  }

  async role(): Promise<string> {
    return this.query(async (r) => String(((await r.call('ROLE')) as unknown[])[0]));
  }

  /** SIGKILL: a crashed shard. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/**
 * A private Redis Cluster on free loopback ports, built the way an operator would: one
 * `redis-server --cluster-enabled yes` per node, then `redis-cli --cluster create`. With
 * `replicas: 1`, every master has a replica that takes over when it dies.
 */
export class RedisCluster {
  private constructor(
    readonly servers: ClusterServer[],
    private readonly dir: string,
  ) {}

  static async start(options: { masters?: number; replicas?: number } = {}): Promise<RedisCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicas ?? 0;
    const dir = mkdtempSync(join(tmpdir(), 'mesh-cluster-'));
    const ports: number[] = [];
    while (ports.length < masters * (1 + replicas)) {
      const port = await freePort();
      // The cluster bus listens on port + 10000, which must be free as well.
      if (port <= 55535 && !ports.includes(port)) ports.push(port);
    }
    const servers = ports.map((port) => new ClusterServer(port, dir));
    const cluster = new RedisCluster(servers, dir);
    try {
      await Promise.all(servers.map((server) => server.start()));
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], 60_000);
      await cluster.waitUntilHealthy();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get nodes(): Array<{ host: string; port: number }> {
    return this.servers.map((server) => ({ host: '127.0.0.1', port: server.port }));
  }

  /** `host:port,host:port,...`, as the sample app's REDIS_CLUSTER_NODES. */
  get nodesText(): string {
    return this.nodes.map(({ host, port }) => `${host}:${port}`).join(',');
  }

  /**
   * Every live node reports cluster_state:ok with all slots served, no slot is served by a
   * node that is down, and every replica has synchronised with its master (a replica that never
   * did cannot take over).
   */
  async waitUntilHealthy(timeoutMs = 30_000): Promise<void> {
    const live = () => this.servers.filter((s) => s.child);
    await until(
      async () => {
        const up = new Set(live().map((s) => s.port));
        const views = await Promise.all(
          live().map((s) => s.query(async (r) => ({ info: String(await r.cluster('INFO')), slots: await r.cluster('SLOTS'), replication: await r.info('replication') }))),
        );
        return views.every(
          ({ info, slots, replication }) =>
            /cluster_state:ok/.test(info) &&
            /cluster_slots_ok:16384/.test(info) &&
            slots.every(([, , master]) => up.has(Number(master[1]))) &&
            (!/role:slave/.test(replication) || /master_link_status:up/.test(replication)),
        );
      },
      timeoutMs,
      'the cluster did not become healthy',
    );
  }

  /**
   * Until every replica has applied all its master has (replication is asynchronous: what a
   * master acknowledged but had not sent on is lost when it dies, as on any Redis Cluster).
   */
  async waitForReplication(timeoutMs = 10_000): Promise<void> {
    await until(
      async () => {
        const masters = await this.masters();
        const infos = await Promise.all(masters.map((s) => s.query((r) => r.info('replication'))));
        // A master lists each replica with the offset it acknowledged: `slave0:ip=...,offset=N,lag=...`.
        return infos.every((info) => {
          const own = Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
          const replicas = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].map((m) => Number(m[1]));
          return replicas.every((offset) => offset === own);
        });
      },
      timeoutMs,
      'the replicas did not catch up',
    );
  }

  async masters(): Promise<ClusterServer[]> {
    const roles = await Promise.all(this.servers.map((s) => (s.child ? s.role().catch(() => 'down') : Promise.resolve('down'))));
    return this.servers.filter((_, i) => roles[i] === 'master');
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
