import { Inject, Injectable, Logger } from '@nestjs/common';
import { SubscriptionSync } from '../common/subscription-sync';
import { MESH_BROKER } from '../mesh.constants';
import type { MeshBroker } from '../state/broker/mesh-broker';
import { topicKey, type TopicKind, type TopicRef } from '../state/broker/topic-ref';

type TopicHandler = (name: string, message: string) => void;

/**
 * Internal topics (a record's updates, a room's presence...): hands each message to the
 * component that owns its kind, and keeps this node listening to a topic exactly while that
 * component wants it (`wanted`, usually: it has local subscribers). Handlers run inside the Redis
 * client's message callback: a failure is logged, never thrown there.
 */
@Injectable()
export class TopicListeners {
  private readonly logger = new Logger('MeshTopics');
  private readonly handlers = new Map<TopicKind, TopicHandler>();
  private readonly syncs = new Map<TopicKind, SubscriptionSync>();

  constructor(@Inject(MESH_BROKER) private readonly broker: MeshBroker) {}

  /** Registers the owner of a topic kind: its message handler and what it wants to hear. */
  own(kind: TopicKind, handler: TopicHandler, wanted: (name: string) => boolean): void {
    if (this.handlers.has(kind)) throw new Error(`Topics of kind "${kind}" already have an owner`);
    this.handlers.set(kind, handler);
    const target = { subscribe: (name: string) => this.broker.listenTopic({ kind, name }), unsubscribe: (name: string) => this.broker.unlistenTopic({ kind, name }) };
    this.syncs.set(kind, new SubscriptionSync(target, wanted, this.logger, `${kind} topic`));
  }

  /** Brings the subscription to a topic in line with what its owner wants; resolves once in effect. */
  sync(topic: TopicRef): Promise<void> {
    const sync = this.syncs.get(topic.kind);
    if (!sync) return Promise.reject(new Error(`No owner for topics of kind "${topic.kind}"`));
    return sync.sync(topic.name);
  }

  /** Whether this node listens to a topic now (diagnostics and tests). */
  isListening(topic: TopicRef): boolean {
    return this.syncs.get(topic.kind)?.isSubscribed(topic.name) ?? false;
  }

  publish(topic: TopicRef, message: string): Promise<void> {
    return this.broker.publishTopic(topic, message);
  }

  /** A message from the broker. */
  deliver(topic: TopicRef, message: string): void {
    const handler = this.handlers.get(topic.kind);
    if (!handler) return void this.logger.warn(`Dropped a message on topic ${topicKey(topic).slice(0, 100)}: nothing here owns it`);
    try {
      handler(topic.name, message);
    } catch (error) {
      this.logger.error(`A message on topic ${topicKey(topic).slice(0, 100)} failed: ${(error as Error).message}`);
    }
  }
}
