/**
 * The storage/bus seam: everything that must be shared between nodes goes through it. Two
 * implementations: Redis (many nodes) and memory (one process). Connection ids, room names and
 * channel names are opaque strings; metadata and messages are values the store keeps as given
 * (metadata is stored as JSON text and never re-encoded inside Redis).
 */
export interface MeshStoreListener {
  /** A delivery addressed to this node (or to every node), as published with `publishToNode`/`publishToAll`. */
  onNodeMessage(message: string): void;
  /** A message published on a user channel that this node subscribed with `subscribeChannel`. */
  onChannelMessage(channel: string, message: string): void;
  /**
   * The subscription connection came back after a drop and listens again. Messages published
   * while it was down were lost (pub/sub is at most once): state kept in step by them must be
   * read again from the store.
   */
  onResubscribed?(): void;
}

/** Result of a metadata update function: the new value, or `undefined` to leave it unchanged. */
export type MetadataUpdater = (current: unknown) => unknown;

export interface MeshStore {
  /** This node's id; valid after `start`. */
  readonly nodeId: string;

  start(listener: MeshStoreListener): Promise<void>;
  /** Releases connections and subscriptions. Call `removeNode(nodeId)` first to clean state. */
  stop(): Promise<void>;

  /** Records a connection as owned by this node, with its initial metadata (if any). */
  addConnection(connectionId: string, metadata?: unknown): Promise<void>;
  /** Forgets a connection: its node entry, metadata and room memberships. Returns its rooms. */
  removeConnection(connectionId: string): Promise<string[]>;
  /** The node owning each of the given connections (ids with no owner are absent). */
  getConnectionNodes(connectionIds: string[]): Promise<Map<string, string>>;
  /** Connection ids owned by a node. */
  getNodeConnections(nodeId: string): Promise<string[]>;
  /** Number of connections on every node. */
  countConnections(): Promise<number>;
  /**
   * Removes a node: every connection it owned (their metadata and room memberships included) and
   * its membership. Atomic. With `dead`, the node is also recorded as a dead node whose cleanup
   * is pending, in the same step. Returns the ids of the connections removed.
   */
  removeNode(nodeId: string, options?: { dead?: boolean }): Promise<string[]>;
  /** Dead nodes removed by `removeNode(id, { dead: true })` whose cleanup was not yet acknowledged. */
  pendingDeadNodes(): Promise<string[]>;
  /** Marks a dead node's cleanup (listeners included) as done. */
  acknowledgeDeadNode(nodeId: string): Promise<void>;

  /**
   * Marks this node alive for `ttlMs`. Returns false when the cluster no longer lists it (another
   * node declared it dead, or Redis lost its data): the node must then fence itself.
   */
  heartbeat(ttlMs: number): Promise<boolean>;
  /** Takes or keeps the leader role for `ttlMs`; true while this node is the leader. */
  lead(ttlMs: number): Promise<boolean>;
  /** Gives up the leader role if this node holds it. */
  resign(): Promise<void>;
  /** Nodes the cluster lists whose heartbeat has expired. */
  findDeadNodes(): Promise<string[]>;
  /** Joins the cluster again under a new node id (after being fenced). */
  rejoin(): Promise<void>;
  /** Round trip to the backing store (rejects if it cannot be reached). */
  ping(): Promise<void>;
  /** False while the subscription connection is down (messages to this node are being lost). */
  readonly listening: boolean;

  /** Metadata of a connection, `null` if none or unknown. */
  getMetadata(connectionId: string): Promise<unknown>;
  /**
   * Atomically replaces a live connection's metadata with `update(current)`. Returns false, and
   * writes nothing, when the connection is not registered.
   */
  updateMetadata(connectionId: string, update: MetadataUpdater): Promise<boolean>;
  /** Metadata of the given connections, or of all connections, as `[id, metadata]` pairs. */
  getAllMetadata(connectionIds?: string[]): Promise<Array<[string, unknown]>>;

  /**
   * Adds a registered connection to a room; resolves with its node, or null if it is not
   * registered. With `maxRooms`, a connection already in that many rooms is not added (joining a
   * room it is in again succeeds): rejects with `MeshLimitError`. Atomic.
   */
  addToRoom(room: string, connectionId: string, maxRooms?: number): Promise<string | null>;
  /** Removes a connection from a room; resolves with its node if it was a member (else null). */
  removeFromRoom(room: string, connectionId: string): Promise<string | null>;
  isInRoom(room: string, connectionId: string): Promise<boolean>;
  getRoomMembers(room: string): Promise<string[]>;
  getRooms(connectionId: string): Promise<string[]>;
  /** Removes every member from a room (its metadata stays). */
  clearRoom(room: string): Promise<void>;
  /** Room metadata (JSON), `null` if none. */
  getRoomMetadata(room: string): Promise<unknown>;
  /** Sets room metadata; `null` deletes it. */
  setRoomMetadata(room: string, metadata: unknown): Promise<void>;

  /** Delivers a message to one node's `onNodeMessage`; resolves with the number of receivers (0: no such live node). */
  publishToNode(nodeId: string, message: string): Promise<number>;
  /** Delivers a message to every node's `onNodeMessage`, this one included. */
  publishToAll(message: string): Promise<void>;
  /**
   * Publishes on a user channel; with `history > 0` keeps the last `history` messages, for
   * `historyTtlMs` after this publish when it is above 0 (else until trimmed).
   */
  publishChannel(channel: string, message: string, history?: number, historyTtlMs?: number): Promise<void>;
  /** The newest `limit` messages kept for a channel, newest first. */
  getChannelHistory(channel: string, limit: number): Promise<string[]>;
  /** Starts receiving a user channel on this node. */
  subscribeChannel(channel: string): Promise<void>;
  unsubscribeChannel(channel: string): Promise<void>;
}
