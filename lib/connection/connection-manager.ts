import { Inject, Injectable } from '@nestjs/common';
import { MESH_SHARED_STATE } from '../mesh.constants';
import type { SharedState } from '../state/shared-state/shared-state';
import { connectionId as idOf, type ConnectionRef } from './connection-ref';
import { isMetadataStrategy, type MetadataStrategy } from '../protocol';
import { combineMetadata } from './metadata-merge';
import { ConnectionEvents } from './connection-events';

export interface SetMetadataOptions {
  /** @default 'replace' */
  strategy?: MetadataStrategy;
}

/** The seed's metadata shape: one single-key object per connection. */
export type MetadataEntry<TMeta = unknown> = Record<string, TMeta>;

/**
 * Connection metadata, shared by every node: a connection on another node is read and written
 * by id. Values are stored as JSON.
 */
@Injectable()
export class ConnectionManager {
  constructor(
    @Inject(MESH_SHARED_STATE) private readonly store: SharedState,
    private readonly events: ConnectionEvents,
  ) {}

  /**
   * Sets a connection's metadata. Returns false (and writes nothing) if the connection is not
   * connected anywhere. Concurrent writers are serialised (compare-and-set), so merges are not lost.
   */
  async setMetadata(connection: ConnectionRef, metadata: unknown, options: SetMetadataOptions = {}): Promise<boolean> {
    const strategy = options.strategy ?? 'replace';
    if (!isMetadataStrategy(strategy)) {
      throw new TypeError(`Unknown metadata strategy "${String(strategy)}" (use "replace", "merge" or "deepMerge")`);
    }
    if (metadata === undefined) throw new TypeError('setMetadata: metadata must not be undefined (use null to clear it)');
    const id = idOf(connection);
    const written = await this.store.updateMetadata(id, (current) => combineMetadata(current, metadata, strategy));
    if (written) await this.events.emitMetadataChange(id);
    return written;
  }

  /** A connection's metadata, or null. */
  getMetadata<TMeta = any>(connection: ConnectionRef): Promise<TMeta | null> {
    return this.store.getMetadata(idOf(connection)) as Promise<TMeta | null>;
  }

  /** Metadata of every connection on every node: `[{ [connectionId]: metadata }]`. */
  async getAllMetadata<TMeta = any>(): Promise<Array<MetadataEntry<TMeta | null>>> {
    return (await this.store.getAllMetadata()).map(([id, metadata]) => ({ [id]: metadata as TMeta | null }));
  }

  /** Metadata of a room's members: `[{ [connectionId]: metadata }]`. */
  async getAllMetadataForRoom<TMeta = any>(room: string): Promise<Array<MetadataEntry<TMeta | null>>> {
    const members = await this.store.getRoomMembers(room);
    return (await this.store.getAllMetadata(members)).map(([id, metadata]) => ({ [id]: metadata as TMeta | null }));
  }
}
