import type { PresenceCallback, PresenceStateOptions, PresenceTicket, PresenceUpdate } from './types';

/** A state this client published, kept to publish it again after a reconnect. */
interface OwnState {
  state: unknown;
  silent?: boolean;
  /** When it expires (ms since the epoch); undefined: never. */
  expiresAt?: number;
}

/**
 * What the client knows of presence, to restore it after a reconnect: the callbacks of the rooms
 * whose presence it watches, its own presence ticket per room (to take its identity over), and
 * the states it published (published again unless the takeover kept them).
 */
export class PresenceSubscriptions {
  private readonly callbacks = new Map<string, PresenceCallback>();
  private readonly tickets = new Map<string, PresenceTicket>();
  private readonly states = new Map<string, OwnState>();

  constructor(private readonly onCallbackError: (room: string, error: unknown) => void) {}

  watch(room: string, callback: PresenceCallback): void {
    this.callbacks.set(room, callback);
  }

  unwatch(room: string): void {
    this.callbacks.delete(room);
  }

  watched(): string[] {
    return [...this.callbacks.keys()];
  }

  deliver(update: PresenceUpdate): void {
    const callback = this.callbacks.get(update.roomName);
    if (!callback) return;
    try {
      callback(update);
    } catch (error) {
      this.onCallbackError(update.roomName, error);
    }
  }

  /** A join reply's ticket; one without a secret (already present) keeps the one known. */
  joined(room: string, ticket: PresenceTicket | undefined): void {
    if (!ticket || typeof ticket.id !== 'string') return;
    if (typeof ticket.secret === 'string' || this.tickets.get(room)?.id !== ticket.id) this.tickets.set(room, ticket);
  }

  /** The claim a re-join sends: the identity held before and its secret. */
  claim(room: string): { id: string; secret: string } | undefined {
    const ticket = this.tickets.get(room);
    return ticket?.secret ? { id: ticket.id, secret: ticket.secret } : undefined;
  }

  left(room: string): void {
    this.tickets.delete(room);
    this.states.delete(room);
  }

  published(room: string, { state, expireAfter, silent }: PresenceStateOptions): void {
    this.states.set(room, { state, silent, expiresAt: expireAfter ? Date.now() + expireAfter : undefined });
  }

  cleared(room: string): void {
    this.states.delete(room);
  }

  /** The state to publish again in a room after a reconnect (with what is left of its expiry), if any. */
  stateToRestore(room: string): PresenceStateOptions | undefined {
    const own = this.states.get(room);
    if (!own) return undefined;
    const left = own.expiresAt === undefined ? undefined : own.expiresAt - Date.now();
    if (left !== undefined && left <= 0) {
      this.states.delete(room);
      return undefined;
    }
    return { state: own.state, expireAfter: left, silent: own.silent };
  }
}
