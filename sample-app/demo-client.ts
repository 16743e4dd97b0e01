/**
 * A demo client for the sample app: connects as ?clientId=<id>, answers `notify` invokes, and
 * prints what it receives. Run: node dist/sample-app/demo-client.js alice [ws://localhost:3000/mesh]
 */
import { MeshClient } from '../client';

async function main(): Promise<void> {
  const clientId = process.argv[2] ?? `demo-${process.pid}`;
  const base = process.argv[3] ?? 'ws://localhost:3000/mesh';
  const client = new MeshClient(`${base}?clientId=${encodeURIComponent(clientId)}`);
  client.handle('notify', async (data) => {
    console.log(`[${clientId}] notify:`, data);
    return { received: data };
  });
  client.on('announcement', (e) => console.log(`[${clientId}] announcement:`, e.detail));
  client.on('latency', (e) => console.log(`[${clientId}] latency: ${e.detail.latency} ms`));
  await client.connect();
  console.log(`[${clientId}] connected as ${client.connectionId}; clients:`, await client.command('clients'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
