import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ConnectionManager, type Connection } from '../lib';

/** Lets a command through once the connection has authenticated (its metadata has a userId). */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  constructor(private readonly connections: ConnectionManager) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const connection = context.switchToWs().getClient<Connection>();
    const metadata = await this.connections.getMetadata<{ userId?: string }>(connection);
    return typeof metadata?.userId === 'string';
  }
}
