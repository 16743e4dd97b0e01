/** Result of a metadata update function: the new value (it is stored as JSON). */
export type MetadataUpdater = (current: unknown) => unknown;

/** One bounded step of removing a node's connections. */
export interface NodeConnectionsRemoval {
  /** The connections removed in this step. */
  removed: string[];
  /** How many are left: call again until 0. */
  left: number;
}

/**
 * What every node must see alike: which node holds each connection, connection metadata, rooms
 * and their metadata (and, later, presence and records). Ids and names are opaque strings;
 * metadata is kept as JSON text and never re-encoded inside the store, so reads return copies.
 * Implementations: Redis (many nodes) and memory (one process).
 */
export interface SharedState {
  /** A round trip to where the state lives (rejects if it cannot be reached). */
  ping(): Promise<void>;
  /**
   * A hint before a burst of independent writes (a connect's, a disconnect's): the writes made
   * now and in the promise callbacks that follow may go out together, in one system call.
   */
  coalesceWrites?(): void;

  /** Records a connection as held by a node, with its initial metadata (if any). */
  addConnection(nodeId: string, connectionId: string, metadata?: unknown): Promise<void>;
  /** Forgets a connection: its node entry, metadata and room memberships. Returns its rooms. */
  removeConnection(connectionId: string): Promise<string[]>;
  /** Removes up to `batch` connections of a node (dead, or leaving), as `removeConnection` does; bounded, idempotent. */
  removeNodeConnections(nodeId: string, batch?: number): Promise<NodeConnectionsRemoval>;
  /** The node holding each of the given connections (ids with none are absent). */
  getConnectionNodes(connectionIds: string[]): Promise<Map<string, string>>;
  getNodeConnections(nodeId: string): Promise<string[]>;
  countConnections(): Promise<number>;

  /** Metadata of a connection, `null` if none or unknown. */
  getMetadata(connectionId: string): Promise<unknown>;
  /**
   * Atomically replaces a live connection's metadata with `update(current)` (which may throw to
   * write nothing). Returns false, and writes nothing, when the connection is not registered.
   */
  updateMetadata(connectionId: string, update: MetadataUpdater): Promise<boolean>;
  /** Metadata of the given connections, or of all, as `[id, metadata]` pairs (registered ones only). */
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
  /** Room metadata, `null` if none. */
  getRoomMetadata(room: string): Promise<unknown>;
  /** Sets room metadata; `null` deletes it. */
  setRoomMetadata(room: string, metadata: unknown): Promise<void>;
}

/** How many connections one step of `removeNodeConnections` takes by default. */
export const NODE_CLEANUP_BATCH = 500;
