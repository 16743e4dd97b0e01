import { Controller, UseGuards, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  ConnectionManager,
  MeshClientService,
  MeshCommand,
  MeshConnection,
  MeshMiddleware,
  MeshPayload,
  MeshServer,
  type Connection,
} from '../lib';
import { AuthenticatedGuard } from './authenticated.guard';
import { validateProfile } from './profile.middleware';

interface UserMetadata {
  userId: string;
  token: string;
  premium: boolean;
  profile?: { name: string; email: string };
}

/** The seed's quickstart as Nest code. */
@Controller()
export class ChatController implements OnModuleInit {
  constructor(
    private readonly mesh: MeshServer,
    private readonly connections: ConnectionManager,
    private readonly clients: MeshClientService,
  ) {}

  onModuleInit(): void {
    this.mesh.exposeChannel('notifications:global');
    this.mesh.exposeChannel(/^private:chat:.+$/, async (connection) => {
      const metadata = await this.connections.getMetadata<UserMetadata>(connection);
      return metadata?.premium === true;
    });
    this.mesh.exposeChannel(/^chat:.+$/);
    this.mesh.exposeRoom(/^lobby(:.+)?$/);
  }

  @MeshCommand('echo')
  echo(@MeshPayload() payload: unknown): string {
    return `echo: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}`;
  }

  @MeshCommand('this-command-throws')
  fail(): never {
    throw new Error('Something went wrong');
  }

  @MeshCommand('authenticate')
  async authenticate(@MeshPayload() payload: { userId?: unknown; premium?: unknown }, @MeshConnection() connection: Connection) {
    if (typeof payload?.userId !== 'string' || payload.userId === '') {
      return { success: false, error: 'userId must be a non-empty string' };
    }
    const metadata: UserMetadata = { userId: payload.userId, token: randomUUID(), premium: payload.premium === true };
    await this.connections.setMetadata(connection, metadata);
    return { success: true };
  }

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

  @MeshCommand('join-room')
  async joinRoom(@MeshPayload('roomName') roomName: string, @MeshConnection() connection: Connection) {
    if (typeof roomName !== 'string' || roomName === '') return { success: false };
    await this.mesh.addToRoom(roomName, connection);
    await this.mesh.broadcastRoom(roomName, 'user-joined', { roomName, id: connection.id });
    return { success: true };
  }

  @MeshCommand('leave-room')
  async leaveRoom(@MeshPayload('roomName') roomName: string, @MeshConnection() connection: Connection) {
    if (typeof roomName !== 'string' || roomName === '') return { success: false };
    await this.mesh.removeFromRoom(roomName, connection);
    await this.mesh.broadcastRoom(roomName, 'user-left', { roomName, id: connection.id });
    return { success: true };
  }

  @MeshCommand('broadcast')
  async broadcast(@MeshPayload() payload: unknown) {
    await this.mesh.broadcast('announcement', payload);
    return { sent: true };
  }

  @MeshCommand('publish')
  async publish(@MeshPayload() payload: { channel?: unknown; message?: unknown }) {
    if (typeof payload?.channel !== 'string' || payload.channel === '') return { success: false };
    await this.mesh.publish(payload.channel, payload.message, { history: 50 });
    return { success: true };
  }

  /** Calls handler `type` on another client, wherever it is connected. */
  @MeshCommand('invoke')
  async invoke(@MeshPayload() payload: { clientId?: unknown; type?: unknown; data?: unknown; timeoutMs?: unknown }) {
    const { clientId, type, data, timeoutMs } = payload ?? {};
    if (typeof clientId !== 'string' || typeof type !== 'string') return { error: 'clientId and type must be strings', code: 'EINVALID', name: 'ValidationError' };
    try {
      return { result: await this.clients.invoke(clientId, type, data, typeof timeoutMs === 'number' ? timeoutMs : undefined) };
    } catch (error) {
      const e = error as Error & { code?: string };
      return { error: e.message, code: e.code ?? 'ESERVER', name: e.name };
    }
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
