import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { MeshConfigurationError } from '../../errors';
import { LuaScripts } from './lua-scripts';

export type RedisOption = string | RedisOptions | Redis;

function describe(redis: RedisOption): string {
  if (typeof redis === 'string') return redis.replace(/\/\/[^@/]*@/, '//***@');
  if (redis instanceof Redis) return `${redis.options.host}:${redis.options.port}`;
  return `${redis.host ?? '127.0.0.1'}:${redis.port ?? 6379}`;
}

/**
 * The two connections a node holds to Redis: one for commands (shared by the broker, the shared
 * state, the membership store and the client registry) and one for subscriptions (a connection in
 * subscriber mode can do nothing else). A client given in the options is borrowed: duplicated for
 * subscriptions and never closed.
 */
export class RedisConnections {
  private readonly logger = new Logger('MeshRedis');
  readonly commands: Redis;
  readonly subscriber: Redis;
  readonly scripts: LuaScripts;
  private readonly owned: boolean;

  constructor(
    private readonly option: RedisOption,
    /** Prefix of every key and internal channel. */
    readonly keyPrefix: string,
  ) {
    const lazy = { lazyConnect: true } as const;
    if (option instanceof Redis) {
      this.owned = false;
      this.commands = option;
      this.subscriber = option.duplicate(lazy);
    } else {
      this.owned = true;
      this.commands = typeof option === 'string' ? new Redis(option, lazy) : new Redis({ ...option, ...lazy });
      this.subscriber = this.commands.duplicate();
    }
    this.scripts = new LuaScripts(this.commands);
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', (error: Error) => this.logger.warn(`Redis connection error: ${error.message}`));
    }
  }

  key(suffix: string): string {
    return this.keyPrefix + suffix;
  }

  async connect(): Promise<void> {
    await this.connectOne(this.commands);
    await this.connectOne(this.subscriber);
  }

  private async connectOne(client: Redis): Promise<void> {
    if (client.status === 'ready') return;
    if (client.status === 'wait') {
      try {
        await client.connect();
      } catch (error) {
        throw new MeshConfigurationError(`Cannot reach Redis at ${describe(this.option)}: ${(error as Error).message}`);
      }
      return;
    }
    await client.ping();
  }

  async stop(): Promise<void> {
    this.subscriber.disconnect();
    if (!this.owned) return;
    // QUIT waits for an answer; without a connection, drop it (queued commands are rejected).
    if (this.commands.status === 'ready') await this.commands.quit().catch(() => this.commands.disconnect());
    else this.commands.disconnect();
  }
}
