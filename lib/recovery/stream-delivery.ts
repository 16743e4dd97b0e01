import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { MESH_BROKER } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import type { MeshBroker, StreamEntry } from '../state/broker/mesh-broker';
import type { PreparedFrame } from '../transport/prepared-frame';
import { ConnectionRecoveries } from './connection-recoveries';
import type { RecoverOptions, StreamPosition } from './recover-options';
import { RecoverRules } from './recover-rules';
import { StreamSequencer } from './stream-sequencer';
import { streamKey, type StreamRef } from './stream-ref';

type Deliverer = (name: string, position: StreamPosition, message: string) => void;

/** What a subscribe or join to a recoverable stream tells the client. */
export interface StreamJoinOutcome {
  /** Where the stream is now: the client counts its offsets from here. */
  position: StreamPosition;
  /** Only when the client gave a position: whether everything it missed was replayed. */
  recovered?: boolean;
  /** Only when recovered: how many messages were replayed. */
  missed?: number;
}

/**
 * Recoverable channels and rooms on this node: which names are recoverable, the node's
 * subscriptions to their streams, in-order delivery of their messages, and a connection's
 * recovery (the replay of what it missed, then live messages, with nothing twice at the seam).
 */
@Injectable()
export class StreamDelivery {
  private readonly logger = new Logger('MeshRecovery');
  readonly channels = new RecoverRules('exposeChannel');
  readonly rooms = new RecoverRules('exposeRoom');
  private readonly recoveries = new ConnectionRecoveries();
  private readonly sequencer: StreamSequencer;
  private readonly deliverers: Partial<Record<StreamRef['kind'], Deliverer>> = {};

  constructor(
    @Inject(MESH_BROKER) private readonly broker: MeshBroker,
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
  ) {
    this.sequencer = new StreamSequencer(broker, (stream) => this.windowOf(stream)?.size ?? 0, (stream, position, message) => this.deliverers[stream.kind]?.(stream.name, position, message), this.logger);
  }

  /** The window of a recoverable channel or room; undefined for a plain one. */
  windowOf(stream: StreamRef): RecoverOptions | undefined {
    return stream.kind === 'channel' ? this.channels.of(stream.name) : this.rooms.of(stream.name);
  }

  /** Who sends a stream's messages, in order, to the local connections (the channel manager, the room router). */
  onDeliver(kind: StreamRef['kind'], deliverer: Deliverer): void {
    this.deliverers[kind] = deliverer;
  }

  /** From the broker: a message of a stream this node listens to. */
  accept(stream: StreamRef, position: StreamPosition, message: string): void {
    this.sequencer.accept(stream, position, message);
  }

  /** The broker's subscription connection came back after a drop. */
  resubscribed(): void {
    this.sequencer.catchUp();
  }

  async listen(stream: StreamRef): Promise<void> {
    this.sequencer.start(stream);
    await this.broker.listenStream(stream);
  }

  async unlisten(stream: StreamRef): Promise<void> {
    this.sequencer.stop(stream);
    await this.broker.unlistenStream(stream);
  }

  append(stream: StreamRef, message: string, options: RecoverOptions): Promise<StreamPosition> {
    return this.broker.appendToStream(stream, message, options);
  }

  /**
   * The newest `limit` messages, newest first, never more than the window: Redis trims a stream
   * approximately (whole internal nodes), so its log may still hold older entries, which
   * recovery would not replay either.
   */
  history(stream: StreamRef, limit: number): Promise<string[]> {
    return this.broker.streamHistory(stream, Math.min(limit, this.windowOf(stream)?.size ?? limit));
  }

  /** Sends a stream's live message to connections (held back from those recovering the stream), skipping the ids in `skip`. */
  sendAll(connections: Iterable<Connection>, stream: StreamRef, offset: number, frame: string | PreparedFrame, skip?: ReadonlySet<string>): void {
    this.recoveries.sendAll(connections, streamKey(stream), offset, frame, skip);
  }

  /**
   * A connection subscribes to (or joins) a recoverable stream, coming back from `after` if
   * given. `enter` subscribes it (resolves false if it may not); then what it missed is read
   * and replayed (`frameOf` makes each entry's frame, or skips it), before any live message.
   * Undefined when `enter` said no.
   */
  async enter(
    connection: Connection,
    stream: StreamRef,
    options: RecoverOptions,
    after: StreamPosition | undefined,
    enter: () => Promise<boolean>,
    frameOf: (entry: StreamEntry, position: StreamPosition) => string | undefined,
  ): Promise<StreamJoinOutcome | undefined> {
    const recovery = after ? this.recoveries.begin(connection, streamKey(stream)) : undefined;
    try {
      if (!(await enter())) {
        recovery?.abort();
        return undefined;
      }
      const read = await this.broker.readStream(stream, after, options.size);
      if (!recovery) return { position: read.position };
      if (!read.recovered) {
        recovery.finish([]);
        return { position: read.position, recovered: false };
      }
      const replay: Array<{ offset: number; frame: string }> = [];
      let bytes = 0;
      for (const entry of read.entries) {
        const frame = frameOf(entry, { epoch: read.position.epoch, offset: entry.offset });
        if (frame === undefined) continue;
        replay.push({ offset: entry.offset, frame });
        bytes += frame.length;
      }
      // A replay the socket could not take at once would get the connection dropped (and the
      // client would come back and try again): past half of maxBufferedAmount, it is not sent.
      if (bytes > this.options.maxBufferedAmount / 2) {
        recovery.finish([]);
        return { position: read.position, recovered: false };
      }
      const complete = recovery.finish(replay);
      return complete ? { position: read.position, recovered: true, missed: replay.length } : { position: read.position, recovered: false };
    } catch (error) {
      recovery?.abort();
      throw error;
    }
  }
}
