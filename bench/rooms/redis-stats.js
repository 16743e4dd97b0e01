'use strict';
// Redis-side readings for bench/sharded.js, summed over every Redis server given (one standalone
// server, or each master of a cluster): command counts, bytes, memory and pub/sub state.
const { Redis } = require('ioredis');

// What this reader itself sends; left out of the counts.
const OWN = /^(info|client\|list|pubsub\|.*)$/;
const PUBLISHES = ['publish', 'spublish'];
const SUBSCRIPTION_CHANGES = ['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe'];

function parseInfo(text) {
  const fields = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

class RedisStats {
  /** @param {{host: string, port: number}[]} servers */
  constructor(servers) {
    this.servers = servers;
    this.connections = servers.map(({ host, port }) => new Redis({ host, port, maxRetriesPerRequest: 2 }));
  }

  /**
   * Counters now: calls per command, bytes in and out, and used memory without what Redis
   * counts as client memory (query, reply and output buffers grow and shrink with traffic, by
   * more than a room costs; also each client's own entry per subscribed channel, ~32 bytes).
   */
  async snapshot() {
    const calls = {};
    let netIn = 0;
    let netOut = 0;
    let usedMemory = 0;
    for (const redis of this.connections) {
      const info = parseInfo(await redis.info('commandstats', 'stats', 'memory'));
      usedMemory += Number(info.used_memory) - Number(info.mem_clients_normal) - Number(info.mem_clients_slaves);
      for (const [key, value] of Object.entries(info)) {
        if (!key.startsWith('cmdstat_')) continue;
        const name = key.slice('cmdstat_'.length);
        if (!OWN.test(name)) calls[name] = (calls[name] ?? 0) + Number(/calls=(\d+)/.exec(value)[1]);
      }
      netIn += Number(info.total_net_input_bytes);
      netOut += Number(info.total_net_output_bytes);
    }
    return { at: performance.now(), calls, netIn, netOut, usedMemory };
  }

  /**
   * Used memory without client memory, the median of 5 readings 200 ms apart (a reading during
   * a burst of traffic can be off by a buffer).
   */
  async memory() {
    const readings = [];
    for (let i = 0; i < 5; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 200));
      readings.push((await this.snapshot()).usedMemory);
    }
    return readings.sort((a, b) => a - b)[2];
  }

  /** Pub/sub state: channel counts and each client's subscriptions, by `<client port>><server port>`. */
  async pubsub() {
    let channels = 0;
    let shardChannels = 0;
    let patterns = 0;
    const clients = new Map();
    for (const [i, redis] of this.connections.entries()) {
      channels += (await redis.pubsub('CHANNELS')).length;
      shardChannels += (await redis.call('PUBSUB', 'SHARDCHANNELS')).length;
      patterns += Number(await redis.pubsub('NUMPAT'));
      for (const line of (await redis.client('LIST')).split('\n')) {
        const field = (name) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(line)?.[1];
        const addr = field('addr');
        if (!addr) continue;
        const count = (name) => Number(field(name) ?? 0);
        clients.set(`${addr.split(':').pop()}>${this.servers[i].port}`, { sub: count('sub'), psub: count('psub'), ssub: count('ssub') });
      }
    }
    return { channels, shardChannels, patterns, clients };
  }

  close() {
    for (const redis of this.connections) redis.disconnect();
  }
}

/** b − a, with the call counts grouped the way the tables report them. */
function diff(a, b) {
  const calls = {};
  for (const name of new Set([...Object.keys(a.calls), ...Object.keys(b.calls)])) {
    const n = (b.calls[name] ?? 0) - (a.calls[name] ?? 0);
    if (n) calls[name] = n;
  }
  const sum = (names) => names.reduce((total, name) => total + (calls[name] ?? 0), 0);
  return {
    ms: b.at - a.at,
    calls,
    commands: Object.values(calls).reduce((x, y) => x + y, 0),
    publishes: sum(PUBLISHES),
    subscriptionChanges: sum(SUBSCRIPTION_CHANGES),
    netIn: b.netIn - a.netIn,
    netOut: b.netOut - a.netOut,
    usedMemory: b.usedMemory - a.usedMemory,
  };
}

module.exports = { RedisStats, diff };
