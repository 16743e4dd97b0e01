import type { Logger } from '@nestjs/common';
import type { MeshBroker } from '../state/broker/mesh-broker';
import type { StreamPosition } from './recover-options';
import { streamKey, type StreamRef } from './stream-ref';

interface Pending {
  position: StreamPosition;
  message: string;
}

interface Sequence {
  stream: StreamRef;
  /** The epoch and last offset delivered on this node; unknown until the first message. */
  epoch?: string;
  last: number;
  /** Messages waiting behind a gap being filled. */
  queue: Pending[];
  filling?: Promise<void>;
}

/**
 * Puts a stream's messages in offset order on this node, once each, before they go to local
 * connections. Pub/sub is at most once: when a message arrives past a gap (the subscription
 * connection dropped and came back), the missing ones are read from the stream first. The
 * sequence of a stream starts with the first message after the node began listening.
 */
export class StreamSequencer {
  private readonly sequences = new Map<string, Sequence>();

  constructor(
    private readonly broker: MeshBroker,
    private readonly windowOf: (stream: StreamRef) => number,
    private readonly deliver: (stream: StreamRef, position: StreamPosition, message: string) => void,
    private readonly logger: Logger,
  ) {}

  /** The node listens to the stream now. */
  start(stream: StreamRef): void {
    const key = streamKey(stream);
    if (!this.sequences.has(key)) this.sequences.set(key, { stream, last: 0, queue: [] });
  }

  /** The node no longer listens to it. */
  stop(stream: StreamRef): void {
    this.sequences.delete(streamKey(stream));
  }

  /** A message of a stream, from pub/sub: delivered in order, or dropped if already delivered. */
  accept(stream: StreamRef, position: StreamPosition, message: string): void {
    const sequence = this.sequences.get(streamKey(stream));
    if (!sequence) return;
    // Nearly always: nothing waiting and this is the next one (or a new epoch): straight through.
    if (!sequence.filling && sequence.queue.length === 0 && (sequence.epoch !== position.epoch || position.offset <= sequence.last + 1)) {
      this.apply(sequence, position, message);
      return;
    }
    sequence.queue.push({ position, message });
    this.drain(sequence);
  }

  /** The subscription connection came back: what every stream missed since is read and delivered. */
  catchUp(): void {
    for (const sequence of this.sequences.values()) {
      if (sequence.epoch !== undefined && !sequence.filling) this.fill(sequence, Infinity);
    }
  }

  private drain(sequence: Sequence): void {
    while (!sequence.filling && sequence.queue.length > 0) {
      const { position, message } = sequence.queue[0];
      if (sequence.epoch === position.epoch && position.offset > sequence.last + 1) {
        this.fill(sequence, position.offset);
        return;
      }
      sequence.queue.shift();
      this.apply(sequence, position, message);
    }
  }

  private apply(sequence: Sequence, position: StreamPosition, message: string): void {
    // A new epoch: the stream lost its history (a Redis restart); its offsets start again.
    if (sequence.epoch !== position.epoch) sequence.epoch = position.epoch;
    else if (position.offset <= sequence.last) return;
    sequence.last = position.offset;
    this.deliver(sequence.stream, position, message);
  }

  /** Reads what came after the last delivered offset (up to `upTo`, or all when Infinity) and delivers it. */
  private fill(sequence: Sequence, upTo: number): void {
    const epoch = sequence.epoch!;
    const from = sequence.last;
    sequence.filling = (async () => {
      try {
        const read = await this.broker.readStream(sequence.stream, { epoch, offset: from }, this.windowOf(sequence.stream));
        if (read.recovered) for (const entry of read.entries) this.apply(sequence, { epoch, offset: entry.offset }, entry.message);
        else if (upTo !== Infinity) this.lost(sequence, upTo - from - 1);
      } catch (error) {
        this.logger.warn(`Could not read the missed messages of ${sequence.stream.kind} "${sequence.stream.name.slice(0, 100)}": ${(error as Error).message}`);
        if (upTo !== Infinity) this.lost(sequence, upTo - from - 1);
      }
    })().finally(() => {
      sequence.filling = undefined;
      if (this.sequences.get(streamKey(sequence.stream)) === sequence) this.drain(sequence);
    });
  }

  /** The gap could not be filled: it is skipped (the connections' own recovery reports it if they reconnect). */
  private lost(sequence: Sequence, count: number): void {
    if (count > 0) {
      this.logger.warn(`${count} message(s) of ${sequence.stream.kind} "${sequence.stream.name.slice(0, 100)}" were lost on the way to this node and are no longer in its window`);
      sequence.last += count;
    }
  }
}
