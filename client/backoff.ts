/** Settings of the reconnect backoff (see `MeshClientOptions`). */
export interface BackoffSettings {
  /** Base delay in ms. */
  reconnectInterval: number;
  /** Cap of the delay in ms. */
  maxReconnectInterval: number;
}

/**
 * Exponential backoff with full jitter: the delay before reconnect attempt `attempt` (0-based) is
 * `random(0, min(maxReconnectInterval, reconnectInterval * 2 ** attempt))` ms.
 */
export function reconnectDelay(attempt: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.maxReconnectInterval, settings.reconnectInterval * 2 ** attempt);
  return Math.floor(random() * Math.max(0, ceiling));
}
