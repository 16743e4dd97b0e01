'use strict';
// Preloaded into a benchmark server (`node --expose-gc -r ./idle-probe.js servers/<target>.js`) by
// idle-memory.js, so the servers stay as they are. Answers IPC requests from the runner:
//   { op: 'measure', gc }      -> process.memoryUsage() and committed bytes per V8 space, after a
//                                 full GC unless gc is false
//   { op: 'snapshot', file }   -> { file } once a heap snapshot was written there
//   { op: 'alloc-start' }, { op: 'alloc-stop', file }
//                              -> a sampling heap profile of every allocation in between, collected
//                                 objects included (where the garbage of a connect comes from);
//                                 open the .heapprofile in Chrome DevTools
//   { op: 'cpu-start' }, { op: 'cpu-stop', file }
//                              -> a CPU profile (.cpuprofile) of the time in between
const v8 = require('node:v8');
const { writeFileSync } = require('node:fs');
const { Session } = require('node:inspector');

let session;
function connect() {
  session ??= new Session();
  session.connect();
}
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));

function collect() {
  // Twice: the first pass can leave finalised objects (weak callbacks) for the second.
  if (global.gc) {
    global.gc();
    global.gc();
  }
}

function measure(gc) {
  if (gc) collect();
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  // Committed bytes per V8 space: what RSS holds of the heap beyond the live objects.
  const stats = v8.getHeapSpaceStatistics();
  const spaces = Object.fromEntries(stats.map((s) => [s.space_name, s.space_size]));
  const spacesUsed = Object.fromEntries(stats.map((s) => [s.space_name, s.space_used_size]));
  return { rss, heapTotal, heapUsed, external, arrayBuffers, spaces, spacesUsed };
}

if (process.send) {
  process.on('message', async (request) => {
    if (!request || typeof request !== 'object') return;
    let reply;
    try {
      if (request.op === 'measure') reply = measure(request.gc !== false);
      else if (request.op === 'cpu-start') {
        connect();
        await post('Profiler.enable');
        await post('Profiler.start');
        reply = {};
      } else if (request.op === 'cpu-stop') {
        const { profile } = await post('Profiler.stop');
        session.disconnect();
        writeFileSync(request.file, JSON.stringify(profile));
        reply = { file: request.file };
      } else if (request.op === 'alloc-start') {
        connect();
        await post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
        reply = {};
      } else if (request.op === 'alloc-stop') {
        const { profile } = await post('HeapProfiler.stopSampling');
        session.disconnect();
        writeFileSync(request.file, JSON.stringify(profile));
        reply = { file: request.file };
      }
      else if (request.op === 'snapshot') {
        collect();
        reply = { file: v8.writeHeapSnapshot(request.file) };
      } else reply = { error: `unknown op ${request.op}` };
    } catch (error) {
      reply = { error: error.message };
    }
    process.send({ seq: request.seq, ...reply });
  });
  // A server whose runner is gone must not linger.
  process.on('disconnect', () => process.exit(0));
}
