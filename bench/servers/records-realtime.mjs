// @prsm/realtime 1.8.1 node for `records.js` (the package is ESM only): records under `bench:`
// readable by clients, writes driven over IPC (records-drive.js), the same loops as nestjs-mesh.
import { RealtimeServer } from '@prsm/realtime';
import drive from './records-drive.js';

const redisUrl = new URL(process.env.REDIS_URL);
const server = new RealtimeServer({ redis: { host: redisUrl.hostname, port: Number(redisUrl.port) } });
let reported = 0;
// An error event without a handler would be lost in the shimmed logger: print the first few.
server.onError((error) => {
  if (reported++ < 5) console.error(`realtime ${process.env.NODE_NAME}: ${error?.message ?? error}`);
});
server.exposeRecord(/^bench:/);
drive.serveRecordDrive({
  from: process.env.NODE_NAME,
  // writeRecord resolves with nothing here (the version is not returned).
  write: (id, value, strategy) => server.writeRecord(id, value, { strategy }),
  version: async (id) => Number((await server.redisManager.redis.get(`rt:record-version:${id}`)) ?? 0),
});
await server.listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
