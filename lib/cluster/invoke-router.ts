import { Inject, Injectable } from '@nestjs/common';
import { ClientDisconnectedError, ClientNotFoundError, ClientNotOnNodeError, MeshNodeUnreachableError, MeshRequestTimeoutError } from '../errors';
import { MESH_CLIENT_REGISTRY_BACKEND, MESH_MEMBERSHIP_STORE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import type { MeshClientRegistryBackend } from '../registry/mesh-client-registry-backend';
import type { MembershipStore } from '../state/membership/membership-store';
import { ClientInvoker } from './client-invoker';
import { ClientRegistration } from './client-registration';
import { NodeBus } from './node-bus';
import { RouteCache } from './route-cache';

/** Node-bus request: call a client of the receiving node. */
const INVOKE = 'mesh:invoke';

/** The node a route named has no socket for the client, or is gone. */
const isWrongRoute = (error: unknown): boolean => error instanceof ClientNotOnNodeError || error instanceof MeshNodeUnreachableError;

/** An invoke as it travels to the node that holds the client. */
interface InvokeRequest {
  clientId: string;
  type: string;
  data: unknown;
  idempotencyKey?: string;
}

function requestOf(clientId: string, type: string, data: unknown, idempotencyKey: string | undefined): InvokeRequest {
  return idempotencyKey === undefined ? { clientId, type, data } : { clientId, type, data, idempotencyKey };
}

/** A custom delivery gets the key as a fifth argument, and only when there is one (four arguments as before otherwise). */
function callInvokeFn(
  invokeFn: NonNullable<ResolvedMeshOptions['clientInvokeFn']>,
  clientId: string,
  type: string,
  data: unknown,
  timeoutMs: number,
  idempotencyKey: string | undefined,
): Promise<unknown> {
  return idempotencyKey === undefined ? invokeFn(clientId, type, data, timeoutMs) : invokeFn(clientId, type, data, timeoutMs, { idempotencyKey });
}

/** What a remote client would receive: the data after a JSON round trip. */
const jsonCopy = (data: unknown): unknown => JSON.parse(JSON.stringify(data ?? null));

/**
 * `MeshClientService.invoke`: finds the node that holds a client and calls the client there. A
 * client on this node is called directly. For a remote client the registry names its node, and
 * that route is remembered (`clientRouteCacheSize`) so that the next invoke goes straight there.
 * The node a route names checks that the client is still connected before calling it; if it is
 * not, the route is dropped and the registry read again, once, within the same deadline. A
 * client's handler is never called twice for one invoke.
 */
@Injectable()
export class InvokeRouter {
  private readonly routes: RouteCache;

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    @Inject(MESH_CLIENT_REGISTRY_BACKEND) private readonly backend: MeshClientRegistryBackend<unknown>,
    private readonly bus: NodeBus,
    private readonly invoker: ClientInvoker,
    private readonly registration: ClientRegistration,
  ) {
    this.routes = new RouteCache(options.clientRouteCacheSize);
    bus.registerHandler(INVOKE, (d: InvokeRequest, _from, timeoutMs) =>
      this.invokeForPeer(d.clientId, d.type, d.data, timeoutMs, typeof d.idempotencyKey === 'string' ? d.idempotencyKey : undefined),
    );
  }

  /** `idempotencyKey` travels to the client with the invoke (see `ClientInvoker.invoke`). */
  invoke<T>(clientId: string, type: string, data: unknown, timeoutMs: number, idempotencyKey?: string): Promise<T> {
    if (typeof clientId !== 'string' || clientId === '') return Promise.reject(new TypeError('invoke: clientId must be a non-empty string'));
    if (typeof type !== 'string' || type === '') return Promise.reject(new TypeError('invoke: type must be a non-empty string'));
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) return Promise.reject(new TypeError('invoke: timeoutMs must be a positive number'));
    const deadline = Date.now() + timeoutMs;
    const cached = this.registration.openConnection(clientId) ? undefined : this.routes.get(clientId);
    const request = requestOf(clientId, type, data, idempotencyKey);
    if (cached === undefined) return this.route<T>(request, timeoutMs, deadline, undefined);
    // The usual case, a remembered route: its request's promise is the answer (no async frame
    // around it); only its "not here" goes on to the registry.
    return this.bus.request<T>(cached, INVOKE, request, timeoutMs).catch((error: unknown) => {
      if (!isWrongRoute(error)) throw error;
      this.routes.forget(clientId);
      return this.route<T>(request, timeoutMs, deadline, cached);
    });
  }

  /** A client on this node, or one without a (live) remembered route: the registry names its node. */
  private async route<T>(request: InvokeRequest, timeoutMs: number, deadline: number, cached: string | undefined): Promise<T> {
    const { clientId, type, data, idempotencyKey } = request;
    if (cached === undefined && this.registration.openConnection(clientId)) return (await this.invokeLocal(clientId, type, jsonCopy(data), timeoutMs, idempotencyKey)) as T;
    const client = await this.backend.getClient(clientId);
    if (!client) throw new ClientNotFoundError(clientId);
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new MeshRequestTimeoutError(`Invoke "${type}" of client ${clientId} found no live route within ${timeoutMs} ms`);
    if (client.nodeId === this.nodes.nodeId) return (await this.invokeLocal(clientId, type, jsonCopy(data), remaining, idempotencyKey)) as T;
    // The node that just said "not here" is still the registered owner: the client is gone.
    if (client.nodeId === cached) throw new ClientDisconnectedError(clientId);
    this.routes.remember(clientId, client.nodeId);
    try {
      return await this.bus.request<T>(client.nodeId, INVOKE, request, remaining);
    } catch (error) {
      if (!isWrongRoute(error)) throw error;
      this.routes.forget(clientId);
      throw new ClientDisconnectedError(clientId);
    }
  }

  /** A registration here makes any remembered route of that client stale. */
  forgetRoute(clientId: string): void {
    this.routes.forget(clientId);
  }

  private async invokeLocal(clientId: string, type: string, data: unknown, timeoutMs: number, idempotencyKey: string | undefined): Promise<unknown> {
    if (this.options.clientInvokeFn) return callInvokeFn(this.options.clientInvokeFn, clientId, type, data, timeoutMs, idempotencyKey);
    const connection = await this.registration.localConnection(clientId);
    if (!connection) throw new ClientDisconnectedError(clientId);
    return this.invoker.invoke(connection, clientId, type, data, timeoutMs, idempotencyKey);
  }

  /** An invoke sent here by another node: "not here" is its own answer, so the caller can re-route. */
  private invokeForPeer(clientId: string, type: string, data: unknown, timeoutMs: number, idempotencyKey: string | undefined): Promise<unknown> {
    if (this.options.clientInvokeFn) return this.invokeFnForPeer(this.options.clientInvokeFn, clientId, type, data, timeoutMs, idempotencyKey);
    // A client whose socket is open here is called at once; only one still registering is waited for.
    const open = this.registration.openConnection(clientId);
    if (open) return this.invoker.invoke(open, clientId, type, data, timeoutMs, idempotencyKey);
    return this.registration.localConnection(clientId).then((connection) => {
      if (!connection) throw new ClientNotOnNodeError(clientId);
      return this.invoker.invoke(connection, clientId, type, data, timeoutMs, idempotencyKey);
    });
  }

  private async invokeFnForPeer(
    invokeFn: NonNullable<ResolvedMeshOptions['clientInvokeFn']>,
    clientId: string,
    type: string,
    data: unknown,
    timeoutMs: number,
    idempotencyKey: string | undefined,
  ): Promise<unknown> {
    try {
      return await callInvokeFn(invokeFn, clientId, type, data, timeoutMs, idempotencyKey);
    } catch (error) {
      // Its documented way of saying "not here".
      if (error instanceof ClientDisconnectedError) throw new ClientNotOnNodeError(clientId);
      throw error;
    }
  }
}
