'use strict';
// socket.io v4 node for bench/sharded.js, with the adapter chosen by SIO_ADAPTER:
// - classic: @socket.io/redis-adapter's createAdapter (every node receives every broadcast);
// - sharded-dynamic: createShardedAdapter with subscriptionMode "dynamic" (a node subscribes to a
//   room's channel while it has local members; SSUBSCRIBE/SPUBLISH).
// Redis: REDIS_URL, or REDIS_CLUSTER (JSON list of {host, port}) for ioredis Cluster clients.
const { createServer } = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createShardedAdapter } = require('@socket.io/redis-adapter/dist/sharded-adapter');
const { Redis, Cluster } = require('ioredis');
const { driveRooms } = require('./room-drive');

function redisClients() {
  if (!process.env.REDIS_CLUSTER) {
    const pub = new Redis(process.env.REDIS_URL);
    return { pub, sub: pub.duplicate() };
  }
  const nodes = JSON.parse(process.env.REDIS_CLUSTER);
  // shardedSubscribers: SSUBSCRIBE goes to the master that owns the channel's slot.
  return { pub: new Cluster(nodes), sub: new Cluster(nodes, { shardedSubscribers: true }) };
}

function adapter(pub, sub) {
  const prefix = `${process.env.KEY_PREFIX}sio`;
  if (process.env.SIO_ADAPTER === 'classic') return createAdapter(pub, sub, { key: prefix });
  if (process.env.SIO_ADAPTER === 'sharded-dynamic') return createShardedAdapter(pub, sub, { channelPrefix: prefix, subscriptionMode: 'dynamic' });
  throw new Error(`SIO_ADAPTER must be classic or sharded-dynamic, got ${process.env.SIO_ADAPTER}`);
}

async function main() {
  const { pub, sub } = redisClients();
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], adapter: adapter(pub, sub) });
  io.on('connection', (socket) => {
    socket.on('join', ({ room }, ack) => {
      socket.join(room);
      ack(true);
    });
    socket.on('leave', ({ room }, ack) => {
      socket.leave(room);
      ack(true);
    });
    socket.on('drive', async (options, ack) => ack(await driveRooms((room, payload) => io.to(room).emit('tick', payload), options)));
  });
  await new Promise((resolve) => http.listen(Number(process.env.PORT), '127.0.0.1', resolve));
  process.on('SIGTERM', () => io.close(() => process.exit(0)));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
