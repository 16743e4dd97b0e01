/**
 * Remote clients' last known nodes, so that repeated invokes of a client skip the registry read.
 * A route is only a hint (the node it names checks the client is still there); the oldest route
 * is dropped first once `capacity` are kept. Capacity 0 keeps none.
 */
export class RouteCache {
  private readonly routes = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  get(clientId: string): string | undefined {
    return this.routes.get(clientId);
  }

  remember(clientId: string, nodeId: string): void {
    if (this.capacity === 0) return;
    if (!this.routes.has(clientId) && this.routes.size >= this.capacity) this.routes.delete(this.routes.keys().next().value as string);
    this.routes.set(clientId, nodeId);
  }

  forget(clientId: string): void {
    this.routes.delete(clientId);
  }
}
