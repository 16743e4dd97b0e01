import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

/** The scripts in ./lua, by file name. */
export type LuaScriptName =
  | 'remove-connection'
  | 'add-to-room'
  | 'remove-from-room'
  | 'clear-room'
  | 'compare-and-set-metadata'
  | 'push-history'
  | 'stream-append'
  | 'stream-read'
  | 'record-commit'
  | 'presence-enter'
  | 'presence-leave'
  | 'presence-set-state'
  | 'presence-clear-state'
  | 'presence-read'
  | 'presence-clear-room'
  | 'presence-refresh'
  | 'registry-register'
  | 'registry-unregister'
  | 'registry-update'
  | 'registry-release'
  | 'idempotency-claim'
  | 'idempotency-renew'
  | 'idempotency-complete'
  | 'idempotency-release'
  | 'join'
  | 'heartbeat'
  | 'dead-nodes'
  | 'unlist-node'
  | 'lead'
  | 'resign';

interface LuaScript {
  /** How many keys it takes; undefined for a script that takes any number (`--! keys: *`). */
  keys?: number;
  source: string;
  sha1: string;
}

const loaded = new Map<LuaScriptName, LuaScript>();

/**
 * Reads a script once per process from its `.lua` file (copied beside the compiled code by the
 * build). Its first line declares how many of its arguments are keys: `--! keys: 3`.
 */
function script(name: LuaScriptName): LuaScript {
  let found = loaded.get(name);
  if (!found) {
    const source = readFileSync(join(__dirname, 'lua', `${name}.lua`), 'utf8');
    const header = /^--! keys: (\d+|\*)/.exec(source);
    if (!header) throw new Error(`lua/${name}.lua does not start with "--! keys: <n>" (or "*")`);
    found = { keys: header[1] === '*' ? undefined : Number(header[1]), source, sha1: createHash('sha1').update(source).digest('hex') };
    loaded.set(name, found);
  }
  return found;
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Runs the Lua scripts on one client (standalone or Cluster, owned or borrowed): EVALSHA, and EVAL
 * once when the server does not have the script yet (a new server, a restart, a failover, a
 * SCRIPT FLUSH); EVAL caches it there for the next EVALSHA. Plain EVALSHA/EVAL rather than
 * ioredis's `defineCommand`, whose commands exist only on pipelines made after the definition:
 * with auto-pipelining (ours, or a borrowed client's) a script first run while a pipeline was
 * queued would fail.
 */
export class LuaScripts {
  constructor(private readonly redis: Redis) {}

  async run<T>(name: LuaScriptName, keys: readonly string[], args: ReadonlyArray<string | number> = []): Promise<T> {
    const { keys: declared, source, sha1 } = script(name);
    if (declared !== undefined && keys.length !== declared) throw new Error(`Script ${name} takes ${declared} keys, got ${keys.length}`);
    try {
      return (await this.redis.evalsha(sha1, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return (await this.redis.eval(source, keys.length, ...keys, ...args)) as T;
    }
  }
}
