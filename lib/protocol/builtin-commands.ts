/** Application-level heartbeat commands; never prefixed. */
export const HeartbeatCommand = {
  PING: 'ping',
  PONG: 'pong',
  LATENCY: 'latency',
  LATENCY_REQUEST: 'latency:request',
  LATENCY_RESPONSE: 'latency:response',
} as const;

/** The default built-in command prefix (`rt` makes `@prsm/realtime` clients work). */
export const DEFAULT_PREFIX = 'mesh';

/** Names of the built-in commands and pushes for one prefix. */
export interface BuiltinCommandNames {
  assignId: string;
  noop: string;
  error: string;
  subscribeChannel: string;
  unsubscribeChannel: string;
  getChannelHistory: string;
  subscriptionMessage: string;
  joinRoom: string;
  leaveRoom: string;
  getRoomMetadata: string;
  getMyConnectionMetadata: string;
  setMyConnectionMetadata: string;
  getConnectionMetadata: string;
  invoke: string;
  invokeResult: string;
  // presence (docs/presence.md)
  subscribePresence: string;
  unsubscribePresence: string;
  publishPresenceState: string;
  clearPresenceState: string;
  getPresenceState: string;
  presenceUpdate: string;
  // records and collections (docs/records.md)
  subscribeRecord: string;
  unsubscribeRecord: string;
  publishRecordUpdate: string;
  transaction: string;
  recordUpdate: string;
  recordDeleted: string;
  subscribeCollection: string;
  unsubscribeCollection: string;
  collectionDiff: string;
}

/** The names of recent prefixes: a client is made per connection, and every one of a process uses the same prefix. */
const namesByPrefix = new Map<string, Readonly<BuiltinCommandNames>>();
const MAX_CACHED_PREFIXES = 8;

/** The built-in names for `prefix`: one frozen object per prefix, shared (a few prefixes are kept). */
export function builtinCommandNames(prefix: string = DEFAULT_PREFIX): Readonly<BuiltinCommandNames> {
  let names = namesByPrefix.get(prefix);
  if (!names) {
    names = Object.freeze(namesFor(prefix));
    if (namesByPrefix.size >= MAX_CACHED_PREFIXES) namesByPrefix.clear();
    namesByPrefix.set(prefix, names);
  }
  return names;
}

function namesFor(prefix: string): BuiltinCommandNames {
  const p = `${prefix}/`;
  return {
    assignId: `${p}assign-id`,
    noop: `${p}noop`,
    error: `${p}error`,
    subscribeChannel: `${p}subscribe-channel`,
    unsubscribeChannel: `${p}unsubscribe-channel`,
    getChannelHistory: `${p}get-channel-history`,
    subscriptionMessage: `${p}subscription-message`,
    joinRoom: `${p}join-room`,
    leaveRoom: `${p}leave-room`,
    getRoomMetadata: `${p}get-room-metadata`,
    getMyConnectionMetadata: `${p}get-my-connection-metadata`,
    setMyConnectionMetadata: `${p}set-my-connection-metadata`,
    getConnectionMetadata: `${p}get-connection-metadata`,
    invoke: `${p}invoke`,
    invokeResult: `${p}invoke-result`,
    subscribePresence: `${p}subscribe-presence`,
    unsubscribePresence: `${p}unsubscribe-presence`,
    publishPresenceState: `${p}publish-presence-state`,
    clearPresenceState: `${p}clear-presence-state`,
    getPresenceState: `${p}get-presence-state`,
    presenceUpdate: `${p}presence-update`,
    subscribeRecord: `${p}subscribe-record`,
    unsubscribeRecord: `${p}unsubscribe-record`,
    publishRecordUpdate: `${p}publish-record-update`,
    transaction: `${p}transaction`,
    recordUpdate: `${p}record-update`,
    recordDeleted: `${p}record-deleted`,
    subscribeCollection: `${p}subscribe-collection`,
    unsubscribeCollection: `${p}unsubscribe-collection`,
    collectionDiff: `${p}collection-diff`,
  };
}
