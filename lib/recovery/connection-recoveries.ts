import type { Connection } from '../connection/connection';
import type { PreparedFrame } from '../transport/prepared-frame';

interface Buffered {
  offset: number;
  frame: string | PreparedFrame;
}

/**
 * Most live messages held for one connection while its recovery is read: past this, the
 * recovery gives up (`recovered: false`) rather than hold more. Reading a window takes one Redis
 * round trip, so only a stream far busier than a client can follow reaches it.
 */
export const MAX_HELD_DURING_RECOVERY = 10_000;

/** A connection's recovery of one stream in progress (see `ConnectionRecoveries.begin`). */
export interface Recovery {
  /** Sends the replayed messages, then what arrived live meanwhile and was not replayed, in order; false (nothing sent) if too much arrived. */
  finish(replayed: ReadonlyArray<{ offset: number; frame: string | PreparedFrame }>): boolean;
  /** Sends what arrived live meanwhile (the replay failed). */
  abort(): void;
}

/**
 * Live messages of a stream held back from a connection while what it missed is read, so that
 * the replay comes first, in order, and nothing is sent twice at the seam between the two.
 */
export class ConnectionRecoveries {
  /** stream key → connection → messages held (undefined once over the limit) */
  private readonly active = new Map<string, Map<Connection, Buffered[] | undefined>>();

  /** Starts holding the stream's live messages for the connection: call before it starts listening. */
  begin(connection: Connection, key: string): Recovery {
    let held = this.active.get(key);
    if (!held) this.active.set(key, (held = new Map()));
    const list = held;
    list.set(connection, []);
    const end = (): Buffered[] | undefined => {
      const buffered = list.get(connection);
      list.delete(connection);
      if (list.size === 0 && this.active.get(key) === list) this.active.delete(key);
      return buffered;
    };
    return {
      finish: (replayed) => {
        const buffered = end();
        // Over the limit, some live messages were dropped: nothing is sent rather than a partial recovery.
        if (!buffered) return false;
        let last = 0;
        for (const { offset, frame } of replayed) {
          connection.sendRaw(frame);
          last = offset;
        }
        for (const { offset, frame } of buffered) if (offset > last) connection.sendRaw(frame);
        return true;
      },
      abort: () => {
        for (const { frame } of end() ?? []) connection.sendRaw(frame);
      },
    };
  }

  /**
   * Sends a stream's live message to connections, holding it for those recovering that stream.
   * Nearly always no connection is: then it is a plain loop, with nothing looked up per recipient.
   */
  sendAll(connections: Iterable<Connection>, key: string, offset: number, frame: string | PreparedFrame, skip?: ReadonlySet<string>): void {
    const held = this.active.size === 0 ? undefined : this.active.get(key);
    for (const connection of connections) {
      if (skip?.has(connection.id)) continue;
      if (!held?.has(connection)) {
        connection.sendRaw(frame);
        continue;
      }
      const list = held.get(connection);
      if (!list) continue;
      if (list.length >= MAX_HELD_DURING_RECOVERY) held.set(connection, undefined);
      else list.push({ offset, frame });
    }
  }
}
