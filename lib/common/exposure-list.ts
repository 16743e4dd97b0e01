import { Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';

/** Decides whether a connection may use a name (a channel, a room). */
export type ExposureGuard = (connection: Connection, name: string) => boolean | Promise<boolean>;

interface Exposure {
  pattern: string | RegExp;
  guard?: ExposureGuard;
}

/** Whether a name matches an exposure-style pattern: the exact string, or a RegExp (its `lastIndex` reset, so a /g pattern works every time). */
export function nameMatches(pattern: string | RegExp, name: string): boolean {
  if (typeof pattern === 'string') return pattern === name;
  pattern.lastIndex = 0;
  return pattern.test(name);
}

/**
 * Names exposed to clients by exact string or RegExp. The first matching pattern wins and only
 * its guard runs; a guard that throws counts as "no".
 */
export class ExposureList {
  private readonly logger = new Logger('MeshExposure');
  private readonly exposures: Exposure[] = [];

  constructor(private readonly kind: string) {}

  add(pattern: string | RegExp, guard?: ExposureGuard): void {
    if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) {
      throw new TypeError(`expose${this.kind}: the pattern must be a string or a RegExp`);
    }
    if (guard !== undefined && typeof guard !== 'function') {
      throw new TypeError(`expose${this.kind}: the guard must be a function`);
    }
    this.exposures.push({ pattern, guard });
  }

  private match(name: string): Exposure | undefined {
    return this.exposures.find(({ pattern }) => nameMatches(pattern, name));
  }

  async allows(connection: Connection, name: string): Promise<boolean> {
    const exposure = this.match(name);
    if (!exposure) return false;
    if (!exposure.guard) return true;
    try {
      return (await exposure.guard(connection, name)) === true;
    } catch (error) {
      this.logger.warn(`The ${this.kind.toLowerCase()} guard for "${name}" threw; access denied: ${(error as Error).message}`);
      return false;
    }
  }
}
