import { PresenceManager } from './presence/presence-manager';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { ChannelManager } from './channels/channel-manager';
import { describeOutcome, settleWithin } from './common/settle-within';
import { NodeBus } from './cluster/node-bus';
import { NodeMessageDispatcher } from './cluster/node-message-dispatcher';
import { NodeMembership } from './cluster/node-membership';
import { MessageRouter } from './delivery/message-router';
import { StreamDelivery } from './recovery/stream-delivery';
import { TopicListeners } from './delivery/topic-listeners';
import { RecordManager } from './records/record-manager';
import { MeshConfigurationError } from './errors';
import { MESH_STATE } from './mesh.constants';
import { MESH_RESOLVED_OPTIONS } from './mesh-options';
import type { ResolvedMeshOptions } from './interfaces/mesh-module-options.interface';
import type { MeshState } from './state/mesh-state';
import { MeshTransport } from './transport/mesh-transport';

/**
 * Starts and stops a node. Start: the store connects and takes a node id (module init, before
 * the app's own `onModuleInit` hooks run, so they may use the mesh), then the endpoint opens
 * (application bootstrap). Stop: drain and close sockets while the app is still up (before
 * shutdown), remove this node's state, then close Redis (shutdown).
 */
@Injectable()
export class MeshLifecycle implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Mesh');
  private started = false;

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_STATE) private readonly state: MeshState,
    private readonly transport: MeshTransport,
    private readonly router: MessageRouter,
    private readonly channels: ChannelManager,
    private readonly streams: StreamDelivery,
    private readonly topics: TopicListeners,
    private readonly records: RecordManager,
    private readonly httpAdapterHost: HttpAdapterHost,
    private readonly membership: NodeMembership,
    private readonly bus: NodeBus,
    private readonly messages: NodeMessageDispatcher,
    private readonly presence: PresenceManager,
  ) {}

  /** Nest runs a module's init hooks concurrently: shutdown must wait for a start in progress. */
  private starting?: Promise<void>;

  onModuleInit(): Promise<void> {
    this.starting = this.start();
    return this.starting;
  }

  private async start(): Promise<void> {
    try {
      await this.state.connect();
      await this.state.broker.start({
        onNodeMessage: (message) => this.messages.handle(message),
        onChannelMessage: (channel, message) => this.channels.deliver(channel, message),
        onResubscribed: () => {
          void this.router.resyncRooms();
          this.streams.resubscribed();
          this.records.resync().catch((error: Error) => this.logger.warn(`Could not resynchronise record subscribers: ${error.message}`));
        },
        onStreamMessage: (stream, position, message) => this.streams.accept(stream, position, message),
        onTopicMessage: (topic, message) => this.topics.deliver(topic, message),
      });
      await this.membership.start();
    } catch (error) {
      await this.stopStores().catch(() => undefined);
      throw error;
    }
    this.started = true;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.port !== undefined) {
      await this.transport.listen(this.options.port, this.options.host);
      const address = this.transport.address();
      this.announce(`ws://${this.options.host}:${address?.port ?? this.options.port}${this.options.path}`);
      return;
    }
    const server = this.httpAdapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) {
      throw new MeshConfigurationError(
        'MeshModule found no HTTP server to attach to: create the app with NestFactory.create (not createApplicationContext) or set the "port" option',
      );
    }
    this.transport.attach(server);
    this.announce(`path ${this.options.path} of the app's HTTP server`);
  }

  /** One line at start-up saying where the endpoint is, as Nest does for routes and gateways. */
  private announce(where: string): void {
    const store = this.options.redis ? 'Redis' : 'in-memory (one process)';
    this.logger.log(`Mesh endpoint on ${where}: prefix "${this.options.prefix}", ${store} state, node ${this.state.membership.nodeId}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (!this.started) return;
    await this.transport.close();
    await this.presence.shutdown();
    this.bus.stop();
    // Leaving the cluster needs Redis. If it cannot be reached, shutdown must not hang on it:
    // after nodeTtl the leader removes this node's state anyway, so waiting longer is pointless.
    const left = (async () => {
      await this.membership.stop();
      await this.membership.leave();
    })();
    const outcome = await settleWithin(left, this.options.nodeTtl);
    if (outcome !== 'done') {
      this.logger.warn(
        `Could not remove node ${this.state.membership.nodeId}'s state from the store (${describeOutcome(outcome, this.options.nodeTtl)}); ` +
          'the leader removes it once its heartbeat expires',
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.stopStores();
  }

  private async stopStores(): Promise<void> {
    await this.state.broker.stop();
    await this.state.close();
  }
}
