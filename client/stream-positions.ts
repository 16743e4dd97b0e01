/** Where a client is in a recoverable channel's or room's stream. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** Whether `value` is an offset as the server sends it. */
export function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** A position as the server sends it (in a message or a reply), if it is one. */
export function readPosition(value: unknown): StreamPosition | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { epoch, offset } = value as Record<string, unknown>;
  return typeof epoch === 'string' && isOffset(offset) ? { epoch, offset } : undefined;
}

/**
 * The last offset delivered per recoverable subscription (`c:<channel>`, `r:<room>`): sent back
 * on reconnect so the server replays what was missed, and used to drop a message delivered
 * already, so each reaches the callbacks once.
 */
export class StreamPositions {
  private readonly positions = new Map<string, StreamPosition>();

  /** The epoch of the last position delivered. */
  epochOf(key: string): string | undefined {
    return this.positions.get(key)?.epoch;
  }

  /** A copy of the last position delivered (the stored one changes with every message). */
  get(key: string): StreamPosition | undefined {
    const position = this.positions.get(key);
    return position && { epoch: position.epoch, offset: position.offset };
  }

  /**
   * A message at (`epoch`, `offset`): true if it is new (and it becomes the last delivered), false if it
   * was delivered already. A new epoch means the stream's history was lost: offsets restart.
   */
  advance(key: string, epoch: string, offset: number): boolean {
    const current = this.positions.get(key);
    if (!current) {
      this.positions.set(key, { epoch, offset });
      return true;
    }
    if (current.epoch === epoch && offset <= current.offset) return false;
    // Updated in place: a position replaced on every message would outlive a young-generation
    // collection or two and be promoted, and a busy channel would fill the old generation with them.
    current.epoch = epoch;
    current.offset = offset;
    return true;
  }

  /**
   * A reply said where the stream is: messages up to there are behind the client (replayed before
   * the reply, or published before it subscribed). A later message delivered already stays the last.
   * True when the epoch changed from the one the client had.
   */
  settle(key: string, position: StreamPosition): boolean {
    const current = this.positions.get(key);
    if (current && current.epoch === position.epoch) {
      if (position.offset > current.offset) current.offset = position.offset;
      return false;
    }
    this.positions.set(key, { epoch: position.epoch, offset: position.offset });
    return current !== undefined;
  }

  delete(key: string): void {
    this.positions.delete(key);
  }
}
