import { Controller, UseGuards, type OnModuleInit } from '@nestjs/common';
import {
  ConnectionManager,
  MeshClientService,
  MeshCommand,
  MeshConnection,
  MeshForbiddenError,
  MeshMiddleware,
  MeshPayload,
  MeshServer,
  MeshValidationError,
  type Connection,
} from '../lib';
import { AuthenticatedGuard } from './authenticated.guard';
import { Counters } from './counters';
import { validateProfile } from './profile.middleware';
import type { UserMetadata } from './sessions';

/** Limits of what one command may make the server do, so the sample stays cheap to call. */
const MAX_MESSAGE_LENGTH = 4096;
const CHANNEL_HISTORY = 50;
const INVOKE_TYPES = new Set(['notify']);
const MAX_INVOKE_TIMEOUT_MS = 10_000;
const COUNTER_NAME = /^[a-z0-9-]{1,64}$/;
/** What recoverable channels and rooms keep for clients that were away. */
const RECOVERY_WINDOW = { size: 1000, ttl: 5 * 60_000 };

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256;
}

/**
 * The seed's quickstart as Nest code, written the safe way: identity comes from the connection's
 * token (see `Sessions`), rooms and channels named by clients are checked against what is exposed,
 * and what a command relays is bounded.
 */
@Controller()
export class ChatController implements OnModuleInit {
  constructor(
    private readonly mesh: MeshServer,
    private readonly connections: ConnectionManager,
    private readonly clients: MeshClientService,
    private readonly counters: Counters,
  ) {}

  onModuleInit(): void {
    this.mesh.exposeChannel('notifications:global');
    this.mesh.exposeChannel(/^private:chat:.+$/, async (connection) => {
      const metadata = await this.connections.getMetadata<UserMetadata>(connection);
      return metadata?.premium === true;
    });
    this.mesh.exposeChannel(/^chat:.+$/);
    // Recoverable: a client that was away (a dropped network, a redeployed node) gets what it
    // missed when it comes back, within the last 1,000 messages and 5 minutes.
    this.mesh.exposeChannel(/^feed:.+$/, undefined, { recover: RECOVERY_WINDOW });
    this.mesh.exposeRoom(/^lobby(:.+)?$/, undefined, { recover: RECOVERY_WINDOW });
    // Who is in the lobbies: members are present however they joined; a client that drops and
    // comes back within 5 s (the default ttl) does not flap leave/join.
    this.mesh.trackPresence(/^lobby(:.+)?$/);
  }

  @MeshCommand('echo')
  echo(@MeshPayload() payload: unknown): string {
    return `echo: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}`;
  }

  @MeshCommand('this-command-throws')
  fail(): never {
    throw new Error('Something went wrong');
  }

  /** The connection's own metadata: `{ userId, premium, profile? }` once it connected with a token. */
  @MeshCommand('whoami')
  @UseGuards(AuthenticatedGuard)
  whoami(@MeshConnection() connection: Connection) {
    return this.connections.getMetadata(connection);
  }

  @MeshCommand('update-profile')
  @UseGuards(AuthenticatedGuard)
  @MeshMiddleware(validateProfile)
  async updateProfile(@MeshPayload() profile: { name: string; email: string }, @MeshConnection() connection: Connection) {
    await this.connections.setMetadata(connection, { profile: { name: profile.name, email: profile.email } }, { strategy: 'merge' });
    return { success: true, profile: { name: profile.name, email: profile.email } };
  }

  /** Joins a room the connection may join (`exposeRoom`), and tells its members who came. */
  @MeshCommand('join-room')
  async joinRoom(@MeshPayload('roomName') roomName: unknown, @MeshConnection() connection: Connection) {
    if (!(await this.mesh.canJoinRoom(connection, roomName))) return { success: false };
    const room = roomName as string;
    await this.mesh.addToRoom(room, connection);
    await this.mesh.broadcastRoom(room, 'user-joined', { roomName: room, id: connection.id, userId: await this.userIdOf(connection) });
    return { success: true };
  }

  /** Leaves a room; its members hear of it only if the connection was one of them. */
  @MeshCommand('leave-room')
  async leaveRoom(@MeshPayload('roomName') roomName: unknown, @MeshConnection() connection: Connection) {
    if (!isName(roomName)) return { success: false };
    if (await this.mesh.removeFromRoom(roomName, connection)) {
      await this.mesh.broadcastRoom(roomName, 'user-left', { roomName, id: connection.id, userId: await this.userIdOf(connection) });
    }
    return { success: true };
  }

  /** The signed-in user of a connection, or null for an anonymous one. */
  private async userIdOf(connection: Connection): Promise<string | null> {
    return (await this.connections.getMetadata<UserMetadata>(connection))?.userId ?? null;
  }

  /** An announcement to every connection, from a signed-in user. */
  @MeshCommand('broadcast')
  @UseGuards(AuthenticatedGuard)
  async broadcast(@MeshPayload('text') text: unknown, @MeshConnection() connection: Connection) {
    if (typeof text !== 'string' || text.length === 0 || text.length > MAX_MESSAGE_LENGTH) {
      throw new MeshValidationError('Invalid announcement', [`text must be a string of 1 to ${MAX_MESSAGE_LENGTH} characters`]);
    }
    const { userId } = (await this.connections.getMetadata<UserMetadata>(connection))!;
    await this.mesh.broadcast('announcement', { text, from: userId });
    return { sent: true };
  }

  /**
   * Publishes on a channel the signed-in user may read (the same rule as subscribing), with
   * history. The message is `{ from, text }` as JSON, and `from` comes from the connection's
   * verified identity: readers can trust who wrote it.
   */
  @MeshCommand('publish')
  @UseGuards(AuthenticatedGuard)
  async publish(@MeshPayload() payload: { channel?: unknown; message?: unknown }, @MeshConnection() connection: Connection) {
    const { channel, message } = payload ?? {};
    if (typeof message !== 'string' || message.length === 0 || message.length > MAX_MESSAGE_LENGTH) {
      throw new MeshValidationError('Invalid message', [`message must be a string of 1 to ${MAX_MESSAGE_LENGTH} characters`]);
    }
    if (!(await this.mesh.canAccessChannel(connection, channel))) {
      const shown = typeof channel === 'string' ? JSON.stringify(channel.slice(0, 100)) : `a channel given as ${channel === null ? 'null' : typeof channel}`;
      throw new MeshForbiddenError(`Publishing to ${shown} is not allowed`);
    }
    const from = (await this.userIdOf(connection))!;
    await this.mesh.publish(channel as string, JSON.stringify({ from, text: message }), { history: CHANNEL_HISTORY });
    return { success: true };
  }

  /** Calls handler `type` (only `notify`) on another client, wherever it is connected. */
  @MeshCommand('invoke')
  @UseGuards(AuthenticatedGuard)
  async invoke(@MeshPayload() payload: { clientId?: unknown; type?: unknown; data?: unknown; timeoutMs?: unknown }) {
    const { clientId, type, data, timeoutMs } = payload ?? {};
    if (!isName(clientId) || typeof type !== 'string' || !INVOKE_TYPES.has(type)) {
      throw new MeshValidationError('Invalid invoke', ['clientId must be a client id and type one of: ' + [...INVOKE_TYPES].join(', ')]);
    }
    const timeout = typeof timeoutMs === 'number' && timeoutMs > 0 ? Math.min(timeoutMs, MAX_INVOKE_TIMEOUT_MS) : undefined;
    try {
      return { result: await this.clients.invoke(clientId, type, data, timeout) };
    } catch (error) {
      const e = error as Error & { code?: string };
      return { error: e.message, code: e.code ?? 'ESERVER', name: e.name };
    }
  }

  /**
   * Adds one to a counter every node shares. Idempotent: a client that sends it with
   * `{ retry: true }` and loses its connection before the reply gets the first run's value after
   * reconnecting, to any node, and the counter moved once.
   */
  @MeshCommand('increment', { idempotent: true })
  async increment(@MeshPayload('key') key: unknown) {
    if (typeof key !== 'string' || !COUNTER_NAME.test(key)) {
      throw new MeshValidationError('Invalid counter', ['key must be 1 to 64 characters: a-z, 0-9 and "-"']);
    }
    return { value: await this.counters.increment(key) };
  }

  /** Registered clients with the node each is on. */
  @MeshCommand('clients')
  async listClients() {
    return (await this.clients.listClients()).map(({ clientId, nodeId, connectedAt }) => ({ clientId, nodeId, connectedAt }));
  }

  @MeshCommand('stats')
  stats(@MeshConnection() connection: Connection) {
    return { nodeId: this.mesh.nodeId, connectionId: connection.id, latency: connection.latency, localConnections: this.mesh.connectionCount };
  }
}
