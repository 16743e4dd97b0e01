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
  | 'registry-register'
  | 'registry-unregister'
  | 'registry-update'
  | 'registry-release'
  | 'join'
  | 'heartbeat'
  | 'dead-nodes'
  | 'unlist-node'
  | 'lead'
  | 'resign';

interface LuaScript {
  command: string;
  keys: number;
  source: string;
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
    const header = /^--! keys: (\d+)/.exec(source);
    if (!header) throw new Error(`lua/${name}.lua does not start with "--! keys: <n>"`);
    found = { command: `mesh_${name.replace(/-/g, '_')}`, keys: Number(header[1]), source };
    loaded.set(name, found);
  }
  return found;
}

/** Runs the Lua scripts on one client: each is sent once (EVALSHA afterwards, as ioredis does for defined commands). */
export class LuaScripts {
  private readonly defined = new Set<LuaScriptName>();

  constructor(private readonly redis: Redis) {}

  run<T>(name: LuaScriptName, keys: readonly string[], args: ReadonlyArray<string | number> = []): Promise<T> {
    const { command, keys: declared, source } = script(name);
    if (keys.length !== declared) throw new Error(`Script ${name} takes ${declared} keys, got ${keys.length}`);
    if (!this.defined.has(name)) {
      this.redis.defineCommand(command, { numberOfKeys: declared, lua: source });
      this.defined.add(name);
    }
    const fn = (this.redis as unknown as Record<string, (...a: Array<string | number>) => Promise<T>>)[command];
    return fn.call(this.redis, ...keys, ...args);
  }
}
