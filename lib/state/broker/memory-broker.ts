import { POSITION_TTL_MS, type RecoverOptions, type StreamPosition } from '../../recovery/recover-options';
import { streamKey, type StreamRef } from '../../recovery/stream-ref';
import type { BrokerListener, MeshBroker, StreamEntry, StreamRead } from './mesh-broker';
import { newEpoch } from '../../recovery/new-epoch';
import { topicKey, type TopicRef } from './topic-ref';

/** A recoverable stream of one process: the same bounded window and position as in Redis. */
interface MemoryStream {
  epoch: string;
  top: number;
  entries: StreamEntry[];
  /** When the entries expire (ttl after the latest append). */
  entriesExpireAt: number;
  /** When the position expires (as the position hash in Redis). */
  expiresAt: number;
}

interface History {
  messages: string[];
  expiresAt: number;
}

/**
 * The broker of a single process: messages go to this node's own listener, asynchronously (as
 * Redis pub/sub does, so that ordering is the same in both modes).
 */
export class MemoryBroker implements MeshBroker {
  private listener?: BrokerListener;
  private nodeId?: string;
  private readonly channels = new Set<string>();
  private readonly rooms = new Set<string>();
  private readonly history = new Map<string, History>();
  private historyWrites = 0;
  private readonly streams = new Map<string, MemoryStream>();
  private readonly listenedStreams = new Set<string>();
  private streamWrites = 0;
  private readonly listenedTopics = new Set<string>();
  readonly listening = true;

  async start(listener: BrokerListener): Promise<void> {
    this.listener = listener;
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }

  async listenAsNode(nodeId: string): Promise<void> {
    this.nodeId = nodeId;
  }

  async unlistenNode(nodeId: string): Promise<void> {
    if (this.nodeId === nodeId) this.nodeId = undefined;
  }

  async publishToNode(nodeId: string, message: string): Promise<number> {
    if (nodeId !== this.nodeId) return 0;
    this.later(() => this.listener?.onNodeMessage(message));
    return 1;
  }

  async publishToAll(message: string): Promise<void> {
    this.later(() => this.listener?.onNodeMessage(message));
  }

  async publishToRoom(room: string, message: string): Promise<void> {
    if (this.rooms.has(room)) this.later(() => this.listener?.onNodeMessage(message));
  }

  async listenToRoom(room: string): Promise<void> {
    this.rooms.add(room);
  }

  async unlistenRoom(room: string): Promise<void> {
    this.rooms.delete(room);
  }

  async publishChannel(channel: string, message: string, history = 0, historyTtlMs = 0): Promise<void> {
    if (history > 0) {
      const kept = this.liveHistory(channel);
      // As in Redis: a push keeps the expiry a list already has; a TTL given now replaces it.
      const expiresAt = historyTtlMs > 0 ? Date.now() + historyTtlMs : (kept?.expiresAt ?? Infinity);
      this.history.set(channel, { messages: [message, ...(kept?.messages ?? [])].slice(0, history), expiresAt });
      if (++this.historyWrites % 1000 === 0) this.dropExpiredHistory();
    }
    if (this.channels.has(channel)) this.later(() => this.listener?.onChannelMessage(channel, message));
  }

  async getChannelHistory(channel: string, limit: number): Promise<string[]> {
    return limit > 0 ? (this.liveHistory(channel)?.messages ?? []).slice(0, limit) : [];
  }

  async subscribeChannel(channel: string): Promise<void> {
    this.channels.add(channel);
  }

  async unsubscribeChannel(channel: string): Promise<void> {
    this.channels.delete(channel);
  }

  /** The stream's state, created with a new epoch when it has none (as stream-read.lua does). */
  private stream(stream: StreamRef): MemoryStream {
    const key = streamKey(stream);
    const now = Date.now();
    let found = this.streams.get(key);
    if (found && found.expiresAt <= now) found = undefined;
    if (!found) {
      found = { epoch: newEpoch(), top: 0, entries: [], entriesExpireAt: 0, expiresAt: now + POSITION_TTL_MS };
      this.streams.set(key, found);
    }
    if (found.entriesExpireAt <= now) found.entries = [];
    return found;
  }

  async appendToStream(stream: StreamRef, message: string, { size, ttl }: RecoverOptions): Promise<StreamPosition> {
    const state = this.stream(stream);
    const offset = ++state.top;
    state.entries.push({ offset, message });
    if (state.entries.length > size) state.entries.splice(0, state.entries.length - size);
    const now = Date.now();
    state.entriesExpireAt = now + ttl;
    state.expiresAt = now + Math.max(ttl, POSITION_TTL_MS);
    if (++this.streamWrites % 1000 === 0) this.dropExpiredStreams();
    const position = { epoch: state.epoch, offset };
    if (this.listenedStreams.has(streamKey(stream))) this.later(() => this.listener?.onStreamMessage?.(stream, position, message));
    return position;
  }

  async readStream(stream: StreamRef, after: StreamPosition | undefined, size: number): Promise<StreamRead> {
    const state = this.stream(stream);
    const position = { epoch: state.epoch, offset: state.top };
    if (!after || after.epoch !== state.epoch || after.offset > state.top) return { position, recovered: false };
    const missed = state.top - after.offset;
    if (missed === 0) return { position, recovered: true, entries: [] };
    const first = state.entries.findIndex((entry) => entry.offset === after.offset + 1);
    if (missed > size || first < 0) return { position, recovered: false };
    return { position, recovered: true, entries: state.entries.slice(first, first + missed) };
  }

  async streamHistory(stream: StreamRef, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    return this.stream(stream).entries.slice(-limit).reverse().map((entry) => entry.message);
  }

  async listenStream(stream: StreamRef): Promise<void> {
    this.listenedStreams.add(streamKey(stream));
  }

  async unlistenStream(stream: StreamRef): Promise<void> {
    this.listenedStreams.delete(streamKey(stream));
  }

  async publishTopic(topic: TopicRef, message: string): Promise<void> {
    if (this.listenedTopics.has(topicKey(topic))) this.later(() => this.listener?.onTopicMessage?.(topic, message));
  }

  async listenTopic(topic: TopicRef): Promise<void> {
    this.listenedTopics.add(topicKey(topic));
  }

  async unlistenTopic(topic: TopicRef): Promise<void> {
    this.listenedTopics.delete(topicKey(topic));
  }

  private dropExpiredStreams(): void {
    const now = Date.now();
    for (const [key, state] of this.streams) if (state.expiresAt <= now) this.streams.delete(key);
  }

  private liveHistory(channel: string): History | undefined {
    const entry = this.history.get(channel);
    if (entry && entry.expiresAt <= Date.now()) {
      this.history.delete(channel);
      return undefined;
    }
    return entry;
  }

  private dropExpiredHistory(): void {
    const now = Date.now();
    for (const [channel, entry] of this.history) if (entry.expiresAt <= now) this.history.delete(channel);
  }

  private later(deliver: () => void): void {
    setImmediate(deliver);
  }
}
