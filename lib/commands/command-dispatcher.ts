import { Inject, Injectable } from '@nestjs/common';
import { ChannelManager } from '../channels/channel-manager';
import type { Connection } from '../connection/connection';
import { ConnectionManager } from '../connection/connection-manager';
import { combineMetadata } from '../connection/metadata-merge';
import { MeshLimitError } from '../errors';
import { MESH_STORE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { builtinCommands, ErrorCode, ErrorName, isMetadataStrategy, type ErrorPayload, type FrameId } from '../protocol';
import { RoomManager } from '../rooms/room-manager';
import type { MeshStore } from '../state/mesh-store.interface';
import type { MeshCommandContext } from './command-context';
import { CommandRegistry } from './command-registry';
import { toErrorPayload } from './error-serializer';

type Builtin = (connection: Connection, payload: Record<string, unknown>) => Promise<unknown> | unknown;

function field(payload: unknown, key: string): unknown {
  return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[key] : undefined;
}

/** Runs one request: a built-in command, or a user command through its pipeline. Never throws. */
@Injectable()
export class CommandDispatcher {
  private readonly builtins = new Map<string, Builtin>();

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_STORE) private readonly store: MeshStore,
    private readonly registry: CommandRegistry,
    private readonly channels: ChannelManager,
    private readonly rooms: RoomManager,
    private readonly connections: ConnectionManager,
  ) {
    const names = builtinCommands(options.prefix);
    const forbidden = (what: string): ErrorPayload => ({ error: `${what} is not allowed`, code: ErrorCode.FORBIDDEN, name: ErrorName.FORBIDDEN });
    const set = (name: string, fn: Builtin) => this.builtins.set(name, fn);

    set(names.noop, () => true);
    set(names.subscribeChannel, (c, p) => this.channels.subscribe(c, field(p, 'channel'), field(p, 'historyLimit')));
    set(names.unsubscribeChannel, (c, p) => this.channels.unsubscribe(c, field(p, 'channel')));
    set(names.getChannelHistory, async (c, p) => {
      const channel = field(p, 'channel');
      if (!(await this.channels.mayAccess(c, channel))) return { success: false, history: [] };
      const limit = field(p, 'limit');
      return { success: true, history: await this.channels.history(channel as string, limit === undefined ? 50 : limit) };
    });
    set(names.joinRoom, (c, p) => this.rooms.clientJoin(c, field(p, 'roomName')));
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

  /** The reply payload for a request (an error payload when it failed). */
  async run(connection: Connection, id: FrameId, command: string, payload: unknown): Promise<unknown> {
    try {
      const builtin = this.builtins.get(command);
      if (builtin) {
        if (!this.registry.hasGlobalMiddlewares) return await builtin(connection, (payload ?? {}) as Record<string, unknown>);
        // Global middlewares guard every command, built-ins included ("authenticate first" must
        // cover subscriptions too); they see the built-in's name and may replace the payload.
        const context: MeshCommandContext = { id, command, payload, connection };
        await this.registry.runGlobalMiddlewares(context);
        return await builtin(connection, (context.payload ?? {}) as Record<string, unknown>);
      }
      const registered = this.registry.get(command);
      if (!registered) {
        return { error: `Command "${command}" not found`, code: ErrorCode.NOT_FOUND, name: ErrorName.COMMAND } satisfies ErrorPayload;
      }
      const context: MeshCommandContext = { id, command, payload, connection };
      return await this.registry.execute(registered, context);
    } catch (error) {
      return toErrorPayload(error, this.options.exposeInternalErrors);
    }
  }
}
