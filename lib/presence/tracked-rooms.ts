import { Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { nameMatches } from '../common/exposure-list';
import { MeshConfigurationError } from '../errors';
import { PRESENCE_DEFAULTS, type PresenceGuard, type TrackPresenceOptions } from './presence-options';

/** A `trackPresence` registration with its defaults applied. */
export interface TrackedPattern {
  pattern: string | RegExp;
  guard?: PresenceGuard;
  ttl: number;
  maxStateBytes: number;
}

function nonNegativeInteger(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
    throw new MeshConfigurationError(`trackPresence: "${name}" must be a non-negative integer, got ${String(value)}`);
  }
}

/** Rooms whose presence is tracked, by exact name or RegExp: the first matching pattern wins (as for exposures). */
export class TrackedRooms {
  private readonly logger = new Logger('MeshPresence');
  private readonly patterns: TrackedPattern[] = [];

  constructor(private readonly defaultMaxStateBytes: number) {}

  add(pattern: string | RegExp, guardOrOptions?: PresenceGuard | TrackPresenceOptions): void {
    if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) throw new MeshConfigurationError('trackPresence: the pattern must be a string or a RegExp');
    const options: TrackPresenceOptions = typeof guardOrOptions === 'function' ? { guard: guardOrOptions } : (guardOrOptions ?? {});
    if (typeof options !== 'object') throw new MeshConfigurationError('trackPresence: the second argument must be a guard or { ttl?, guard?, maxStateBytes? }');
    if (options.guard !== undefined && typeof options.guard !== 'function') throw new MeshConfigurationError('trackPresence: the guard must be a function');
    nonNegativeInteger('ttl', options.ttl);
    nonNegativeInteger('maxStateBytes', options.maxStateBytes);
    this.patterns.push({ pattern, guard: options.guard, ttl: options.ttl ?? PRESENCE_DEFAULTS.ttl, maxStateBytes: options.maxStateBytes || this.defaultMaxStateBytes });
  }

  /** No room is tracked: presence has nothing to do. */
  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  /** The registration a room falls under, if its presence is tracked. */
  of(room: string): TrackedPattern | undefined {
    return this.patterns.find(({ pattern }) => nameMatches(pattern, room));
  }

  /** Whether the room is tracked and its guard lets the connection in (a guard that throws says no). */
  async allows(connection: Connection, room: string): Promise<boolean> {
    const tracked = this.of(room);
    if (!tracked) return false;
    if (!tracked.guard) return true;
    try {
      return (await tracked.guard(connection, room)) === true;
    } catch (error) {
      this.logger.warn(`The presence guard for "${room.slice(0, 100)}" threw; access denied: ${(error as Error).message}`);
      return false;
    }
  }
}
