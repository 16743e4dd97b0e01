import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ChannelManager } from './channels/channel-manager';
import { ClientInvoker } from './cluster/client-invoker';
import { ClientRegistration } from './cluster/client-registration';
import { InvokeRouter } from './cluster/invoke-router';
import { MeshClientService } from './cluster/mesh-client.service';
import { OrphanReporter } from './cluster/orphan-reporter';
import { NodeBus } from './cluster/node-bus';
import { NodeMessageDispatcher } from './cluster/node-message-dispatcher';
import { NodeMembership } from './cluster/node-membership';
import { ConnectionEvents } from './connection/connection-events';
import { CommandDispatcher } from './commands/command-dispatcher';
import { CommandPipelineFactory } from './commands/command-pipeline.factory';
import { CommandRegistry } from './commands/command-registry';
import { MeshCommandExplorer } from './commands/mesh-command.explorer';
import { IdempotentRuns } from './commands/idempotent-runs';
import { MemoryIdempotencyStore } from './state/idempotency/memory-idempotency-store';
import { RedisIdempotencyStore } from './state/idempotency/redis-idempotency-store';
import { ConnectionManager } from './connection/connection-manager';
import { LocalConnections } from './connection/local-connections';
import { MessageRouter } from './delivery/message-router';
import { StreamDelivery } from './recovery/stream-delivery';
import { TopicListeners } from './delivery/topic-listeners';
import { RecordManager } from './records/record-manager';
import { RecordCommands } from './records/record-commands';
import { CollectionManager } from './collections/collection-manager';
import { CollectionCommands } from './collections/collection-commands';
import { MESH_BROKER, MESH_CLIENT_REGISTRY_BACKEND, MESH_COMMAND_NAMES, MESH_IDEMPOTENCY_STORE, MESH_MEMBERSHIP_STORE, MESH_PRESENCE_STORE, MESH_RECORD_STORE, MESH_SHARED_STATE, MESH_STATE } from './mesh.constants';
import { builtinCommandNames } from './protocol';
import { BuiltinCommandTable } from './commands/builtin-command-table';
import { MeshClientMemoryRegistry } from './registry/mesh-client-memory-registry';
import { MeshClientRedisRegistry } from './registry/mesh-client-redis-registry';
import { MeshLifecycle } from './mesh.lifecycle';
import { MeshConfigurableModule, MESH_MODULE_OPTIONS, type MESH_ASYNC_OPTIONS_TYPE, type MESH_OPTIONS_TYPE } from './mesh.module-definition';
import { MESH_RESOLVED_OPTIONS, resolveMeshOptions } from './mesh-options';
import { MeshServer } from './mesh-server';
import type { MeshModuleOptions, ResolvedMeshOptions } from './interfaces/mesh-module-options.interface';
import { RoomManager } from './rooms/room-manager';
import { RoomHooks } from './rooms/room-hooks';
import { PresenceManager } from './presence/presence-manager';
import { createMeshState, type MeshState } from './state/mesh-state';
import { MeshTransport } from './transport/mesh-transport';
import { NodeHealth } from './cluster/node-health';

function createRegistryBackend(options: ResolvedMeshOptions, state: MeshState) {
  if (options.registryBackend) return options.registryBackend;
  return state.client ? new MeshClientRedisRegistry(state.client, options.keyPrefix) : new MeshClientMemoryRegistry();
}

/** Idempotent commands' claims live where the rest of the state does: Redis with a `redis` option. */
const createIdempotencyStore = (state: MeshState) => (state.redis ? new RedisIdempotencyStore(state.redis) : new MemoryIdempotencyStore());

const MESH_PROVIDERS: Provider[] = [
  { provide: MESH_RESOLVED_OPTIONS, useFactory: (options: MeshModuleOptions) => resolveMeshOptions(options), inject: [MESH_MODULE_OPTIONS] },
  { provide: MESH_COMMAND_NAMES, useFactory: (options: ResolvedMeshOptions) => builtinCommandNames(options.prefix), inject: [MESH_RESOLVED_OPTIONS] },
  { provide: MESH_STATE, useFactory: createMeshState, inject: [MESH_RESOLVED_OPTIONS] },
  { provide: MESH_BROKER, useFactory: (state: MeshState) => state.broker, inject: [MESH_STATE] },
  { provide: MESH_SHARED_STATE, useFactory: (state: MeshState) => state.state, inject: [MESH_STATE] },
  { provide: MESH_MEMBERSHIP_STORE, useFactory: (state: MeshState) => state.membership, inject: [MESH_STATE] },
  { provide: MESH_PRESENCE_STORE, useFactory: (state: MeshState) => state.presence, inject: [MESH_STATE] },
  { provide: MESH_CLIENT_REGISTRY_BACKEND, useFactory: createRegistryBackend, inject: [MESH_RESOLVED_OPTIONS, MESH_STATE] },
  { provide: MESH_RECORD_STORE, useFactory: (state: MeshState) => state.records, inject: [MESH_STATE] },
  { provide: MESH_IDEMPOTENCY_STORE, useFactory: createIdempotencyStore, inject: [MESH_STATE] },
  ConnectionEvents,
  NodeMessageDispatcher,
  NodeBus,
  ClientInvoker,
  ClientRegistration,
  InvokeRouter,
  OrphanReporter,
  MeshClientService,
  LocalConnections,
  CommandRegistry,
  CommandPipelineFactory,
  MeshCommandExplorer,
  BuiltinCommandTable,
  IdempotentRuns,
  CommandDispatcher,
  ChannelManager,
  RoomManager,
  RoomHooks,
  PresenceManager,
  MessageRouter,
  StreamDelivery,
  TopicListeners,
  RecordManager,
  RecordCommands,
  CollectionManager,
  CollectionCommands,
  ConnectionManager,
  MeshTransport,
  NodeMembership,
  NodeHealth,
  MeshServer,
  MeshLifecycle,
];

/**
 * The providers belong to the module `forRoot`/`forRootAsync` return, not to the class, so a bare
 * `imports: [MeshModule]` in a feature module adds nothing (no second endpoint, no options to
 * miss): with the default `isGlobal: true` the injectables are there already.
 */
function withMeshProviders(definition: DynamicModule): DynamicModule {
  return {
    ...definition,
    imports: [...(definition.imports ?? []), DiscoveryModule],
    providers: [...(definition.providers ?? []), ...MESH_PROVIDERS],
    exports: [...(definition.exports ?? []), MeshServer, ConnectionManager, MeshClientService],
  };
}

/**
 * `MeshModule.forRoot(options)` / `forRootAsync({ imports, useFactory, inject })`: a Mesh
 * WebSocket endpoint on the app's HTTP server, `@MeshCommand` discovery, and the injectable
 * `MeshServer`, `ConnectionManager` and `MeshClientService`, in every module (`isGlobal`
 * defaults to true; pass `isGlobal: false` to import the module where it is used).
 */
@Module({})
export class MeshModule extends MeshConfigurableModule {
  static override forRoot(options: typeof MESH_OPTIONS_TYPE = {}): DynamicModule {
    return withMeshProviders(super.forRoot(options));
  }

  static override forRootAsync(options: typeof MESH_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withMeshProviders(super.forRootAsync(options));
  }
}
