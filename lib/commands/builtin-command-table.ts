import { Inject, Injectable } from '@nestjs/common';
import { field } from '../common/payload-field';
import { ChannelManager } from '../channels/channel-manager';
import type { Connection } from '../connection/connection';
import { ConnectionManager } from '../connection/connection-manager';
import { ConnectionEvents } from '../connection/connection-events';
import { combineMetadata } from '../connection/metadata-merge';
import { MeshLimitError } from '../errors';
import { MESH_COMMAND_NAMES, MESH_SHARED_STATE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { ErrorCode, ErrorName, isMetadataStrategy, type BuiltinCommandNames, type ErrorPayload } from '../protocol';
import { RoomManager } from '../rooms/room-manager';
import type { SharedState } from '../state/shared-state/shared-state';

/** A built-in command: its payload as the client sent it (an object, or `{}`), its reply payload. */
export type BuiltinCommand = (connection: Connection, payload: Record<string, unknown>) => Promise<unknown> | unknown;


/**
 * The built-in commands of docs/protocol.md (`<prefix>/subscribe-channel`, `join-room`, metadata
 * reads and writes...), built once for the configured prefix. Each checks its payload field by
 * field: a client may send anything.
 */
@Injectable()
export class BuiltinCommandTable {
  private readonly builtins = new Map<string, BuiltinCommand>();

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames,
    @Inject(MESH_SHARED_STATE) private readonly store: SharedState,
    private readonly channels: ChannelManager,
    private readonly rooms: RoomManager,
    private readonly connections: ConnectionManager,
    private readonly events: ConnectionEvents,
  ) {
    const forbidden = (what: string): ErrorPayload => ({ error: `${what} is not allowed`, code: ErrorCode.FORBIDDEN, name: ErrorName.FORBIDDEN });
    const set = (name: string, fn: BuiltinCommand) => this.builtins.set(name, fn);

    set(names.noop, () => true);
    set(names.subscribeChannel, (c, p) => this.channels.subscribe(c, field(p, 'channel'), field(p, 'historyLimit'), field(p, 'recover')));
    set(names.unsubscribeChannel, (c, p) => this.channels.unsubscribe(c, field(p, 'channel')));
    set(names.getChannelHistory, async (c, p) => {
      const channel = field(p, 'channel');
      if (!(await this.channels.mayAccess(c, channel))) return { success: false, history: [] };
      const limit = field(p, 'limit');
      return { success: true, history: await this.channels.history(channel as string, limit === undefined ? 50 : limit) };
    });
    set(names.joinRoom, (c, p) => this.rooms.clientJoin(c, field(p, 'roomName'), field(p, 'recover'), field(p, 'presence')));
    set(names.leaveRoom, async (c, p) => {
      const room = field(p, 'roomName');
      if (typeof room === 'string' && room.length > 0) await this.rooms.leave(room, c.id);
      return { success: true };
    });
    set(names.getRoomMetadata, async (c, p) => {
      const room = field(p, 'roomName');
      if (!(await this.rooms.mayJoin(c, room))) return forbidden(`Reading the metadata of room ${JSON.stringify(room)}`);
      return { metadata: await this.store.getRoomMetadata(room as string) };
    });
    set(names.getMyConnectionMetadata, async (c) => ({ metadata: await this.connections.getMetadata(c) }));
    set(names.setMyConnectionMetadata, async (c, p) => {
      if (!this.options.allowClientMetadataWrites) return forbidden('Setting connection metadata from a client');
      const strategy = field(field(p, 'options'), 'strategy') ?? 'replace';
      const metadata = field(p, 'metadata');
      if (!isMetadataStrategy(strategy) || metadata === undefined) return { success: false };
      const most = this.options.maxClientMetadataBytes;
      const written = await this.store.updateMetadata(c.id, (current) => {
        const next = combineMetadata(current, metadata, strategy);
        if (Buffer.byteLength(JSON.stringify(next ?? null)) > most) throw new MeshLimitError(`Connection metadata would be over ${most} bytes (maxClientMetadataBytes)`);
        return next;
      });
      if (written) await this.events.emitMetadataChange(c.id);
      return { success: written };
    });
    set(names.getConnectionMetadata, async (_c, p) => {
      const { visibleMetadata, allowClientMetadataReads } = this.options;
      if (!visibleMetadata && !allowClientMetadataReads) return forbidden("Reading another connection's metadata from a client");
      const id = field(p, 'connectionId');
      if (typeof id !== 'string' || id.length === 0 || id.length > this.options.maxNameLength) return { metadata: null };
      const metadata = await this.connections.getMetadata(id);
      if (!visibleMetadata || metadata === null) return { metadata };
      return { metadata: visibleMetadata(metadata, id) ?? null };
    });
  }

  /** Adds a built-in command of a feature (presence, records...); its owner calls this in its constructor. */
  add(name: string, command: BuiltinCommand): void {
    if (this.builtins.has(name)) throw new Error(`Built-in command "${name}" is defined twice`);
    this.builtins.set(name, command);
  }

  get(command: string): BuiltinCommand | undefined {
    return this.builtins.get(command);
  }
}
