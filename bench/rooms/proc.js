'use strict';
// Readings of other processes from /proc, finer than bench/common.js's 10 ms CPU ticks: what a
// node with nothing to do costs is a few ms per second, so it needs nanosecond CPU times.
const fs = require('node:fs');

/**
 * CPU time used by the live threads of a process, in µs: the sum of each thread's run time from
 * /proc/<pid>/task/<tid>/schedstat (ns). Threads that exited are not counted (Node's threads live
 * as long as the process).
 */
function threadCpuMicros(pid) {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return ns / 1000;
}

/** Bytes the process has read through read-like system calls, sockets included (rchar). */
function bytesRead(pid) {
  return Number(/rchar:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
}

/**
 * A process's TCP connections to the given remote ports (its Redis connections), as
 * `<local port>><remote port>`: socket inodes from /proc/<pid>/fd, matched against /proc/net/tcp.
 * Redis's CLIENT LIST names each client by its port, so subscriptions can be told apart by node.
 */
function connectionsTo(pid, remotePorts) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const wanted = new Set(remotePorts.map(Number));
  const found = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      const port = (address) => parseInt(address.split(':').pop(), 16);
      if (wanted.has(port(f[2]))) found.push(`${port(f[1])}>${port(f[2])}`);
    }
  }
  return found;
}

/**
 * Samples a process's CPU in slices of `sliceMs` until `stop()`, which returns the slices as
 * { cpu: µs, ms } (the last, partial slice included).
 */
function sliceSampler(pid, sliceMs) {
  const slices = [];
  let lastCpu = threadCpuMicros(pid);
  let lastAt = performance.now();
  const take = () => {
    const cpu = threadCpuMicros(pid);
    const at = performance.now();
    slices.push({ cpu: cpu - lastCpu, ms: at - lastAt });
    lastCpu = cpu;
    lastAt = at;
  };
  const timer = setInterval(take, sliceMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return slices;
    },
  };
}

module.exports = { threadCpuMicros, bytesRead, connectionsTo, sliceSampler };
