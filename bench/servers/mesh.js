'use strict';
// nestjs-mesh node for the benchmark: the compiled library (dist/) in a Nest app, programmatic API.
require('reflect-metadata');
const { Module, Logger } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { MeshModule, MeshServer, MeshClientService } = require('../../dist/lib');
const { fanout, driveInvokes, publishDrive, INVOKE_TIMEOUT_MS } = require('./drive');

/** The recoverable channel's window in the `channel-recoverable` workload. */
const RECOVER = { size: 1000, ttl: 5 * 60 * 1000 };

async function main() {
  const port = Number(process.env.PORT);
  Logger.overrideLogger(['error']);
  class BenchModule {}
  Module({
    imports: [
      MeshModule.forRoot({
        redis: process.env.REDIS_URL,
        keyPrefix: process.env.KEY_PREFIX,
        resolveClientId: (conn, req) => new URL(req.url, 'http://x').searchParams.get('clientId') || conn.id,
      }),
    ],
  })(BenchModule);
  const app = await NestFactory.create(BenchModule, { logger: ['error'] });
  const mesh = app.get(MeshServer);
  const clients = app.get(MeshClientService);
  mesh.registerCommand('echo', (ctx) => ctx.payload);
  mesh.registerCommand('join', async (ctx) => mesh.addToRoom('bench', ctx.connection));
  mesh.registerCommand('fanout', (ctx) => fanout((payload) => mesh.broadcastRoom('bench', 'tick', payload), ctx.payload));
  mesh.registerCommand('invoke-drive', (ctx) =>
    driveInvokes((target) => clients.invoke(target, 'notify', { n: 1 }, ctx.payload.timeoutMs), ctx.payload),
  );
  // Client-driven invoke: a caller's command that invokes a client on another node, answered with its result.
  mesh.registerCommand('invoke-client', (ctx) => clients.invoke(ctx.payload.target, 'notify', { n: 1 }, INVOKE_TIMEOUT_MS));
  // Channel workloads: the same publish loop on a plain and on a recoverable channel.
  mesh.exposeChannel('bench-plain');
  mesh.exposeChannel('bench-recoverable', undefined, { recover: RECOVER });
  mesh.registerCommand('publish-drive', (ctx) => publishDrive((channel, text) => mesh.publish(channel, text), ctx.payload));
  app.enableShutdownHooks();
  await app.listen(port, '127.0.0.1');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
