import { Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { nameMatches, type ExposureGuard } from '../common/exposure-list';

/** What a collection holds for a connection: record ids (or objects with an `id`, as @prsm/realtime resolvers return). */
export type CollectionResolver = (connection: Connection, collectionId: string) => ReadonlyArray<string | { id: string }> | Promise<ReadonlyArray<string | { id: string }>>;

/** What `exposeCollection` takes besides the pattern and the resolver. */
export interface ExposeCollectionOptions {
  /** Refuses a subscription when it does not return `true` (a guard that throws refuses). */
  guard?: ExposureGuard;
  /**
   * The records whose changes may change what the resolver returns (an id prefix, exact id or
   * RegExp). A change to any other record does not run the resolver again. @default every record
   */
  watch?: string | RegExp;
}

interface CollectionExposure extends ExposeCollectionOptions {
  pattern: string | RegExp;
  resolver: CollectionResolver;
}

/** Exposed collections by exact id or RegExp; the first match wins. */
export class CollectionExposures {
  private readonly logger = new Logger('MeshCollections');
  private readonly exposures: CollectionExposure[] = [];

  get any(): boolean {
    return this.exposures.length > 0;
  }

  add(pattern: string | RegExp, resolver: CollectionResolver, options: ExposeCollectionOptions = {}): void {
    if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) throw new TypeError('exposeCollection: the pattern must be a string or a RegExp');
    if (typeof resolver !== 'function') throw new TypeError('exposeCollection: the resolver must be a function');
    if (options.guard !== undefined && typeof options.guard !== 'function') throw new TypeError('exposeCollection: the guard must be a function');
    if (options.watch !== undefined && typeof options.watch !== 'string' && !(options.watch instanceof RegExp)) throw new TypeError('exposeCollection: watch must be a string or a RegExp');
    this.exposures.push({ pattern, resolver, ...options });
  }

  match(collectionId: string): CollectionExposure | undefined {
    return this.exposures.find(({ pattern }) => nameMatches(pattern, collectionId));
  }

  async allows(connection: Connection, collectionId: string): Promise<boolean> {
    const exposure = this.match(collectionId);
    if (!exposure) return false;
    if (!exposure.guard) return true;
    try {
      return (await exposure.guard(connection, collectionId)) === true;
    } catch (error) {
      this.logger.warn(`The collection guard for "${collectionId}" threw; access denied: ${(error as Error).message}`);
      return false;
    }
  }

  /** Whether a change to a record may change a collection (its `watch`). */
  watches(collectionId: string, recordId: string): boolean {
    const watch = this.match(collectionId)?.watch;
    if (watch === undefined) return true;
    return typeof watch === 'string' ? recordId.startsWith(watch) : nameMatches(watch, recordId);
  }
}
