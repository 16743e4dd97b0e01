import { Injectable } from '@nestjs/common';
import type { Connection } from './connection';

/** The connections whose sockets this node holds. */
@Injectable()
export class LocalConnections {
  private readonly byId = new Map<string, Connection>();

  add(connection: Connection): void {
    this.byId.set(connection.id, connection);
  }

  delete(connection: Connection): void {
    if (this.byId.get(connection.id) === connection) this.byId.delete(connection.id);
  }

  get(id: string): Connection | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  values(): IterableIterator<Connection> {
    return this.byId.values();
  }
}
