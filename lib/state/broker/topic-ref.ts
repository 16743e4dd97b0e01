/**
 * An internal topic: node-to-node messages about one thing (a record's updates, a room's
 * presence, record-set changes for collections), heard only by the nodes that listen to it
 * (those with local subscribers). Each kind lives in the hash slot of the keys it is about, so a
 * script that changes those keys can publish on the topic in the same step.
 */
export type TopicKind = 'record' | 'presence' | 'collection';

export interface TopicRef {
  kind: TopicKind;
  name: string;
}

/** One text per topic, for maps. */
export function topicKey(topic: TopicRef): string {
  return `${topic.kind}:${topic.name}`;
}
