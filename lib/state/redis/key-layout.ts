import type { TopicKind, TopicRef } from '../broker/topic-ref';

/** How every stream channel's name ends (see `streamOfChannel`). */
const STREAM_CHANNEL_END = '}:stream';
/** How every topic channel's name ends (see `topicOfChannel`). */
const TOPIC_CHANNEL_END = '}:topic';
/** The hash tag each topic kind shares with the keys it is about. */
const TOPIC_TAGS: Record<TopicKind, string> = { record: 'rec:', presence: 'r:', collection: 'col:' };

/**
 * Where every key and internal channel of a node lives in Redis. Keys are grouped by what a
 * script must change atomically, and each group shares a hash tag, so on Redis Cluster it lives
 * in one hash slot (and on one shard):
 *
 * - `{cluster}`: node ids, heartbeats, the leader lock, dead nodes, the broadcast channel (small, rare writes);
 * - `{c:<connection>}`: a connection's owner node and metadata (a hash), its rooms (a set) and its presence identities;
 * - `{r:<room>}`: a room's members, its metadata, its message channel, its presence and its presence topic;
 * - `{n:<node>}`: a node's connections (also those with presence), its registered clients, its orphans and its inbox channel;
 * - `{ik:<digest>}`: one idempotency key's run and its kept reply (see lib/commands/idempotent-runs.ts);
 * - `{cl:<client>}`: a client's registration (owner, epoch, metadata);
 * - `{rec:<record>}`: a versioned record (a hash: value, version) and its topic; records whose ids
 *   share their text up to a first `}` share a slot (`doc:{team}:a`, `doc:{team}:b`), so a
 *   transaction over them is one atomic step on a cluster too;
 * - `{records}`: the index of existing record ids (written only when a record is created or deleted);
 * - `{ch:<channel>}`: a recoverable channel's stream of recent messages, its position and the
 *   internal channel its messages are published on with their offsets.
 *
 * Work that spans groups (a connection joining a room, a dead node's cleanup) is split into
 * per-group steps, ordered so that concurrent steps never leave a room listing a member that
 * does not list the room (see docs/scaling.md). A tag's text is never empty (`{}` would not
 * count as a tag), and keys of one group share all the text up to the tag's closing brace, so
 * they share a slot whatever the names contain.
 */
export class RedisKeyLayout {
  constructor(readonly prefix: string) {}

  // {cluster}
  get nodes(): string {
    return `${this.prefix}{cluster}:nodes`;
  }
  get nodeSequence(): string {
    return `${this.prefix}{cluster}:node-seq`;
  }
  get nodeInstances(): string {
    return `${this.prefix}{cluster}:node-instances`;
  }
  get leader(): string {
    return `${this.prefix}{cluster}:leader`;
  }
  get deadNodes(): string {
    return `${this.prefix}{cluster}:dead-nodes`;
  }
  /** Channel: messages to every node. */
  get broadcastChannel(): string {
    return `${this.prefix}{cluster}:broadcast`;
  }

  // {c:<connection>}
  /** Hash: `node` (owner node id), `meta` (JSON). */
  connection(connectionId: string): string {
    return `${this.prefix}{c:${connectionId}}`;
  }
  /** Set of the rooms a connection is in. */
  connectionRooms(connectionId: string): string {
    return `${this.prefix}{c:${connectionId}}:rooms`;
  }
  /** Hash: the presence identities a connection holds, room → id (its own id, or the one it took over). */
  connectionPresence(connectionId: string): string {
    return `${this.prefix}{c:${connectionId}}:presence`;
  }

  // {r:<room>}
  /** Set of a room's member connection ids. */
  roomMembers(room: string): string {
    return `${this.prefix}{r:${room}}`;
  }
  /** String: a room's metadata (JSON). */
  roomMetadata(room: string): string {
    return `${this.prefix}{r:${room}}:meta`;
  }
  /** Hash: a tracked room's present members, id → "<holding connection>\n<secret digest>\n<visible metadata>". */
  roomPresence(room: string): string {
    return `${this.prefix}{r:${room}}:present`;
  }
  /** Hash: a tracked room's member states, id → "<expiresAt or 0>\n<state JSON>". */
  roomPresenceStates(room: string): string {
    return `${this.prefix}{r:${room}}:states`;
  }
  /** Channel: a room's broadcasts, subscribed by the nodes that have members of it. */
  roomChannel(room: string): string {
    return `${this.prefix}{r:${room}}:messages`;
  }

  /** Stream: a recoverable room's recent broadcasts, ids `0-<offset>`. */
  roomLog(room: string): string {
    return `${this.prefix}{r:${room}}:log`;
  }
  /** Hash: a recoverable room's `epoch` and `top` (last offset). */
  roomPosition(room: string): string {
    return `${this.prefix}{r:${room}}:position`;
  }
  /** Channel: a recoverable room's broadcasts with their offsets. */
  roomStreamChannel(room: string): string {
    return `${this.prefix}{r:${room}${STREAM_CHANNEL_END}`;
  }

  // {ch:<channel>}
  /** Stream: a recoverable channel's recent messages, ids `0-<offset>`. */
  channelLog(channel: string): string {
    return `${this.prefix}{ch:${channel}}:log`;
  }
  /** Hash: a recoverable channel's `epoch` and `top` (last offset). */
  channelPosition(channel: string): string {
    return `${this.prefix}{ch:${channel}}:position`;
  }
  /** Channel: a recoverable channel's messages with their offsets (the raw channel carries plain publishes only). */
  channelStreamChannel(channel: string): string {
    return `${this.prefix}{ch:${channel}${STREAM_CHANNEL_END}`;
  }

  /**
   * The stream whose messages a channel carries, if it is a stream channel. No other internal
   * channel ends the way stream channels do, whatever the names in them contain.
   */
  streamOfChannel(channel: string): { kind: 'channel' | 'room'; name: string } | undefined {
    if (!channel.endsWith(STREAM_CHANNEL_END)) return undefined;
    const end = channel.length - STREAM_CHANNEL_END.length;
    const channelStart = `${this.prefix}{ch:`;
    if (channel.startsWith(channelStart)) return { kind: 'channel', name: channel.slice(channelStart.length, end) };
    const roomStart = `${this.prefix}{r:`;
    if (channel.startsWith(roomStart)) return { kind: 'room', name: channel.slice(roomStart.length, end) };
    return undefined;
  }

  // {rec:<record>}
  /** Hash: a record's `value` (JSON) and `version`. */
  record(recordId: string): string {
    return `${this.prefix}{rec:${recordId}}`;
  }

  // {records}
  /** Sorted set (all scores 0, so in byte order): the ids of the records that exist. */
  get recordIndex(): string {
    return `${this.prefix}{records}:ids`;
  }

  // topics
  /** Channel: an internal topic, in the slot of the keys it is about (a record's, a room's). */
  topicChannel(topic: TopicRef): string {
    return `${this.prefix}{${TOPIC_TAGS[topic.kind]}${topic.name}${TOPIC_CHANNEL_END}`;
  }

  /** The topic a channel carries, if it is a topic channel (no other internal channel ends as they do). */
  topicOfChannel(channel: string): TopicRef | undefined {
    if (!channel.endsWith(TOPIC_CHANNEL_END)) return undefined;
    const end = channel.length - TOPIC_CHANNEL_END.length;
    for (const kind of Object.keys(TOPIC_TAGS) as TopicKind[]) {
      const start = `${this.prefix}{${TOPIC_TAGS[kind]}`;
      if (channel.startsWith(start)) return { kind, name: channel.slice(start.length, end) };
    }
    return undefined;
  }

  // {n:<node>}
  /** Set of a node's connections that hold presence somewhere (kept during their grace period, for the dead-node cleanup). */
  nodePresence(nodeId: string): string {
    return `${this.prefix}{n:${nodeId}}:presence`;
  }
  /** Set of a node's connection ids. */
  nodeConnections(nodeId: string): string {
    return `${this.prefix}{n:${nodeId}}:connections`;
  }
  /** Set of the client ids registered on a node. */
  nodeClients(nodeId: string): string {
    return `${this.prefix}{n:${nodeId}}:clients`;
  }
  /** Hash: a dead node's orphaned clients, kept until they were reported. */
  nodeOrphans(nodeId: string): string {
    return `${this.prefix}{n:${nodeId}}:orphans`;
  }
  /** Channel: messages to one node. */
  nodeChannel(nodeId: string): string {
    return `${this.prefix}{n:${nodeId}}:inbox`;
  }

  // {cl:<client>}
  /** Hash: `owner` ("node|epoch|connectedAt"), `meta` (JSON), `epoch` (counter). */
  client(clientId: string): string {
    return `${this.prefix}{cl:${clientId}}`;
  }

  // {ik:<digest>}
  /** Hash: one idempotency key's run (`token`, `fp`, `state`, `reply`); the digest hides the key and its scope. */
  idempotencyRecord(digest: string): string {
    return `${this.prefix}{ik:${digest}}`;
  }

  /** List: a user channel's history, newest first (one key, any slot). */
  history(channel: string): string {
    return `${this.prefix}history:${channel}`;
  }

  /** Whether a channel is one of the node's own (every internal channel is under the prefix). */
  isInternal(channel: string): boolean {
    return channel.startsWith(this.prefix);
  }
}
