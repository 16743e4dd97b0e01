'use strict';
// nestjs-mesh node for `records.js`: the compiled library (dist/) in a Nest app, records under
// `bench:` readable by clients, writes driven over IPC (records-drive.js).
require('reflect-metadata');
const { Module, Logger } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { MeshModule, MeshServer } = require('../../dist/lib');
const { serveRecordDrive } = require('./records-drive');

async function main() {
  const port = Number(process.env.PORT);
  Logger.overrideLogger(['error']);
  class BenchModule {}
  Module({ imports: [MeshModule.forRoot({ redis: process.env.REDIS_URL, keyPrefix: process.env.KEY_PREFIX })] })(BenchModule);
  const app = await NestFactory.create(BenchModule, { logger: ['error'] });
  const mesh = app.get(MeshServer);
  mesh.exposeRecord(/^bench:/);
  serveRecordDrive({
    from: process.env.NODE_NAME,
    write: (id, value, strategy) => mesh.writeRecord(id, value, { strategy }),
    version: async (id) => (await mesh.getRecordWithVersion(id)).version,
  });
  app.enableShutdownHooks();
  await app.listen(port, '127.0.0.1');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
