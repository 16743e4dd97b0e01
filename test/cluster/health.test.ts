import { Controller, Get, Injectable } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { MeshClient } from '../../client';
import { MeshServer } from '../../lib';
import { RedisServer } from '../support/redis-server';
import { startApp, uniquePrefix, waitFor, type TestApp } from '../support/test-app';

const FAST = { nodeHeartbeatInterval: 100, nodeTtl: 500 };

// The indicator and controller shown in the README, for @nestjs/terminus 11.
@Injectable()
class MeshHealthIndicator {
  constructor(
    private readonly mesh: MeshServer,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'mesh') {
    const { status, ...details } = await this.mesh.health();
    const indicator = this.indicators.check(key);
    return status === 'down' ? indicator.down({ ...details, degraded: false }) : indicator.up({ ...details, degraded: status === 'degraded' });
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly mesh: MeshHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.mesh.isHealthy()]);
  }
}

describe('MeshServer.health()', () => {
  const apps: TestApp[] = [];
  let redis: RedisServer | undefined;

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((t) => t.close().catch(() => undefined)));
    await redis?.stop();
    redis = undefined;
  });

  it('a node with no Redis is up, with its readings', async () => {
    const t = await startApp({ memory: true });
    apps.push(t);
    const health = await t.mesh.health();
    expect(health).toMatchObject({ status: 'up', problems: [], nodeId: '1', leader: true, connections: 0, accepting: true, store: 'memory', listening: true });
    expect(typeof health.storeLatencyMs).toBe('number');
    expect(health.heartbeatAgeMs).toBeGreaterThanOrEqual(0);
  });

  it('counts its sockets; down while Redis is unreachable (within the timeout), up again once it is back', async () => {
    redis = await RedisServer.start();
    const t = await startApp({ mesh: { redis: redis.url, keyPrefix: uniquePrefix(), ...FAST } });
    apps.push(t);
    const client = new MeshClient(t.url, { shouldReconnect: false });
    await client.connect();
    try {
      expect(await t.mesh.health()).toMatchObject({ status: 'up', store: 'redis', connections: 1, listening: true });

      await redis.stop();
      const down = await t.mesh.health(300);
      expect(down.status).toBe('down');
      expect(down.storeLatencyMs).toBeNull();
      expect(down.problems.join('\n')).toContain('The store cannot be reached: no answer within 300 ms');

      await redis.start();
      await waitFor(async () => (await t.mesh.health()).status === 'up', 10_000, 'health up again');
    } finally {
      await client.close();
    }
  });

  it('is down once shutdown has begun', async () => {
    const t = await startApp({ memory: true, mesh: { drainTimeout: 2000 } });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    t.mesh.registerCommand('slow', () => held.then(() => 'done'));
    const client = new MeshClient(t.url, { shouldReconnect: false });
    await client.connect();
    const reply = client.command('slow').catch((error: Error) => error.message);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = t.close();
    const during = await waitFor(async () => {
      const health = await t.mesh.health();
      return health.accepting ? undefined : health;
    }, 3000, 'the endpoint to stop accepting');
    expect(during.status).toBe('down');
    expect(during.problems).toContain('The endpoint does not take connections (starting up or shutting down)');
    release();
    expect(await reply).toBe('done');
    await closing;
    await client.close();
  });

  it('rejects a timeout that is not a positive number', async () => {
    const t = await startApp({ memory: true });
    apps.push(t);
    await expect(t.mesh.health(0)).rejects.toThrow('health: timeoutMs must be a positive number');
    await expect(t.mesh.health(Number.NaN)).rejects.toThrow(TypeError);
  });

  it('plugs into @nestjs/terminus: 200 while up, 503 while Redis is down', async () => {
    redis = await RedisServer.start();
    const t = await startApp({
      mesh: { redis: redis.url, keyPrefix: uniquePrefix(), ...FAST },
      imports: [TerminusModule],
      controllers: [HealthController],
      providers: [MeshHealthIndicator],
    });
    apps.push(t);
    const url = `http://127.0.0.1:${t.port}/health`;
    const up = await fetch(url);
    expect(up.status).toBe(200);
    const body = (await up.json()) as { status: string; info: { mesh: { status: string; degraded: boolean; store: string } } };
    expect(body.status).toBe('ok');
    expect(body.info.mesh).toMatchObject({ status: 'up', degraded: false, store: 'redis' });

    await redis.stop();
    const down = await fetch(url);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { error: { mesh: { status: string } } }).error.mesh.status).toBe('down');
  });
});
