import type { ExposureGuard } from '../common/exposure-list';

/** Decides whether a connection may watch a tracked room's presence and publish its own state there. */
export type PresenceGuard = ExposureGuard;

/** What `trackPresence` takes besides the pattern. */
export interface TrackPresenceOptions {
  /**
   * How long (ms) a member whose connection was lost stays present, waiting for the same client
   * to come back: a `MeshClient` that reconnects within it takes its presence over and nobody
   * sees it leave and join again. A connection is lost when its socket closes, or when it stays
   * silent for more than `maxMissedPongs` pings (the heartbeat closes it); an explicit leave, and
   * a node that dies, do not wait for it. 0: members leave as soon as their connection closes.
   * @default 5000
   */
  ttl?: number;
  /** Who may subscribe to the rooms' presence and publish a state there (members are present whatever it says). */
  guard?: PresenceGuard;
  /** Largest state (its JSON) a member may publish, in bytes. @default the `maxClientMetadataBytes` module option */
  maxStateBytes?: number;
}

/** Defaults of `TrackPresenceOptions`. */
export const PRESENCE_DEFAULTS = { ttl: 5000 } as const;

/** The longest `expireAfter` a state may have: what a timer can wait (about 24.8 days). */
export const MAX_EXPIRE_AFTER_MS = 2 ** 31 - 1;
