'use strict';
// socket.io v4 node with @socket.io/redis-adapter: what NestJS teams usually scale with.
const { createServer } = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { Redis } = require('ioredis');
const { fanout, driveInvokes, INVOKE_TIMEOUT_MS } = require('./drive');

async function main() {
  const port = Number(process.env.PORT);
  const pub = new Redis(process.env.REDIS_URL);
  const sub = pub.duplicate();
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], adapter: createAdapter(pub, sub, { key: `${process.env.KEY_PREFIX}sio` }) });
  io.on('connection', (socket) => {
    socket.on('echo', (payload, ack) => ack(payload));
    socket.on('join', (_payload, ack) => {
      socket.join('bench');
      ack(true);
    });
    socket.on('fanout', async (options, ack) => ack(await fanout(async (payload) => io.to('bench').emit('tick', payload), options)));
    // Client-driven invoke: the ack handler asks the socket (on any node) and acks with its answer.
    socket.on('invoke-client', async ({ target }, ack) => {
      try {
        const [answer] = await io.to(target).timeout(INVOKE_TIMEOUT_MS).emitWithAck('notify', { n: 1 });
        ack(answer);
      } catch (error) {
        ack({ error: error.message });
      }
    });
    socket.on('invoke-drive', async (options, ack) => {
      ack(await driveInvokes((target) => io.to(target).timeout(options.timeoutMs).emitWithAck('notify', { n: 1 }), options));
    });
  });
  await new Promise((resolve) => http.listen(port, '127.0.0.1', resolve));
  const stop = () => io.close(() => process.exit(0));
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
