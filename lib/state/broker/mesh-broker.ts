import type { RecoverOptions, StreamPosition } from '../../recovery/recover-options';
import type { StreamRef } from '../../recovery/stream-ref';
import type { TopicRef } from './topic-ref';

/** A message kept in a recoverable stream. */
export interface StreamEntry {
  offset: number;
  message: string;
}

/**
 * A stream's position, and what a client missed since where it was: all of it, oldest first
 * (`recovered: true`), or nothing when the epoch changed or the window no longer holds it all.
 */
export type StreamRead = { position: StreamPosition } & ({ recovered: true; entries: StreamEntry[] } | { recovered: false });

/** What a node hears through the broker. */
export interface BrokerListener {
  /** A node message addressed to this node (`publishToNode`), to every node (`publishToAll`) or to a room this node listens to (`publishToRoom`). */
  onNodeMessage(message: string): void;
  /** A message on a user channel this node subscribed with `subscribeChannel`. */
  onChannelMessage(channel: string, message: string): void;
  /**
   * The subscription connection came back after a drop. Messages published while it was down
   * were lost (pub/sub is at most once): state kept in step by them must be read again.
   */
  onResubscribed?(): void;
  /** A message appended to a recoverable stream this node listens to (`listenStream`), with its position. */
  onStreamMessage?(stream: StreamRef, position: StreamPosition, message: string): void;
  /** A message on an internal topic this node listens to (`listenTopic`). */
  onTopicMessage?(topic: TopicRef, message: string): void;
}

/**
 * Messaging between nodes and on user channels, at most once: node messages to one node, to all,
 * or to the nodes that listen to a room (those with local members: interest-based routing), and
 * user channels with their history. Implementations: Redis pub/sub (many nodes; sharded on Redis
 * Cluster) and memory (one process).
 */
export interface MeshBroker {
  /** Starts listening for messages to every node. */
  start(listener: BrokerListener): Promise<void>;
  stop(): Promise<void>;
  /** Listens for messages to this node id (before the node is listed, so it misses none). */
  listenAsNode(nodeId: string): Promise<void>;
  /** Stops listening for messages to a node id this node no longer holds. */
  unlistenNode(nodeId: string): Promise<void>;
  /** False while the subscription connection is down (messages to this node are being lost). */
  readonly listening: boolean;
  /** Resolves with how many nodes received it: 0 means no live node holds that id. */
  publishToNode(nodeId: string, message: string): Promise<number>;
  /** Every node's `onNodeMessage`, this one's included. */
  publishToAll(message: string): Promise<void>;
  /** Node messages to the nodes that listen to a room (with `listenToRoom`). */
  publishToRoom(room: string, message: string): Promise<void>;
  /** Starts hearing a room's messages; resolves once in effect (a message published after it is heard). */
  listenToRoom(room: string): Promise<void>;
  unlistenRoom(room: string): Promise<void>;
  /** Publishes on a user channel; with `history > 0` keeps the last `history` messages (for `historyTtlMs` after this publish when above 0). */
  publishChannel(channel: string, message: string, history?: number, historyTtlMs?: number): Promise<void>;
  /** The newest `limit` messages kept for a channel, newest first. */
  getChannelHistory(channel: string, limit: number): Promise<string[]>;
  subscribeChannel(channel: string): Promise<void>;
  unsubscribeChannel(channel: string): Promise<void>;

  /**
   * Appends a message to a recoverable stream (a channel's or a room's), keeping the last
   * `size` for `ttl` ms, and publishes it with its position to the nodes that listen to the
   * stream, in one step: positions are published in the order they were given.
   */
  appendToStream(stream: StreamRef, message: string, options: RecoverOptions): Promise<StreamPosition>;
  /** The stream's position; with `after`, also what came after it, if the window still holds all of it (at most `size`). */
  readStream(stream: StreamRef, after: StreamPosition | undefined, size: number): Promise<StreamRead>;
  /** The newest `limit` messages of a stream, newest first. */
  streamHistory(stream: StreamRef, limit: number): Promise<string[]>;
  /** Starts hearing a stream's messages (`onStreamMessage`); resolves once in effect. */
  listenStream(stream: StreamRef): Promise<void>;
  unlistenStream(stream: StreamRef): Promise<void>;

  /** Publishes on an internal topic, to the nodes that listen to it. */
  publishTopic(topic: TopicRef, message: string): Promise<void>;
  /** Starts hearing a topic (`onTopicMessage`); resolves once in effect. */
  listenTopic(topic: TopicRef): Promise<void>;
  unlistenTopic(topic: TopicRef): Promise<void>;
}
