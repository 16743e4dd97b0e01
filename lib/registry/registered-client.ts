/** A client as the registry knows it. */
export interface RegisteredClient<TMeta = unknown> {
  clientId: string;
  /** The node that owns the client's socket. */
  nodeId: string;
  /** When this registration was made (ms since the epoch, the registering node's clock). */
  connectedAt: number;
  /**
   * Ownership epoch: grows with every registration of any client. A message about a client
   * (a kick) carries the epoch it is about, so it never affects a newer registration.
   */
  epoch: number;
  metadata: TMeta | null;
}

/** What `register` reports. */
export interface RegisterResult {
  /** The node that owned the client before, if it was another node (it must close its socket). */
  supersededNodeId: string | null;
  /** The epoch of this registration. */
  epoch: number;
}
