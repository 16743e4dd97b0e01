import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ConnectionManager, MeshServer, type Connection } from '../lib';
import type { UserMetadata } from './sessions';

/** Every document is a record `doc:<name>`. */
export const DOCUMENT = /^doc:[a-z0-9-]{1,64}$/;

/**
 * Shared documents: records `doc:*` that everyone may read and signed-in users may write (each
 * write is at most 64 KiB, the default `maxRecordBytes`), and the collection `docs`, which holds
 * every document that exists.
 */
@Injectable()
export class Documents implements OnModuleInit {
  constructor(
    private readonly mesh: MeshServer,
    private readonly connections: ConnectionManager,
  ) {}

  onModuleInit(): void {
    this.mesh.exposeWritableRecord(DOCUMENT, (connection) => this.signedIn(connection));
    this.mesh.exposeRecord(DOCUMENT);
    this.mesh.exposeCollection('docs', () => this.mesh.listRecordIds('doc:'), { watch: 'doc:' });
  }

  private async signedIn(connection: Connection): Promise<boolean> {
    const metadata = await this.connections.getMetadata<UserMetadata>(connection);
    return typeof metadata?.userId === 'string';
  }
}
