'use strict';
// Core pinning for `run.js`: the server nodes on one core, the load generator on another, Redis on
// a third when there is one (else beside the load generator, not the servers: their CPU is what
// the table reports). Unpinned, the scheduler moves the processes across 2 cores at will and a
// server's CPU per operation swings with where its peers happened to run (1.05x to 1.66x the
// floor between runs); pinned, every target sees the same layout.
const fs = require('node:fs');
const os = require('node:os');
const { spawnSync } = require('node:child_process');

/** "0-1,4,6-7" → [0, 1, 4, 6, 7] */
function parseCpuList(list) {
  const cpus = [];
  for (const part of list.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The CPUs this process may run on (a container or a `taskset` around `npm run bench` narrows them). */
function allowedCpus() {
  try {
    const match = /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return parseCpuList(match[1]);
  } catch {
    // not Linux: fall through
  }
  return os.cpus().map((_, i) => i);
}

const tasksetWorks = (cpu) => {
  const result = spawnSync('taskset', ['-c', String(cpu), 'true'], { stdio: 'ignore' });
  return !result.error && result.status === 0;
};

/**
 * Which core each role runs on, or none (`cores` undefined) with the reason: `mode` 'off'
 * (`--pin off`), fewer than 2 usable CPUs, or no working `taskset` (not installed, not Linux, or
 * not permitted). Roles: `servers`, `load`, `redis`.
 */
function corePlan(mode = 'auto') {
  if (mode === 'off') return { note: 'unpinned (--pin off)' };
  if (mode !== 'auto') throw new Error(`--pin must be auto or off, got ${mode}`);
  const cpus = allowedCpus();
  if (cpus.length < 2) return { note: `unpinned (only CPU ${cpus.join(',')} is usable)` };
  if (!tasksetWorks(cpus[0])) return { note: 'unpinned (taskset is missing or not permitted)' };
  const [servers, load, third] = cpus;
  const redis = third ?? load;
  const cores = { servers, load, redis };
  const note = `pinned with taskset: server nodes on CPU ${servers}, load generator on CPU ${load}, Redis on CPU ${redis}`;
  return { cores, note };
}

/** `[command, args]` that runs `command args` on `cpu` (as is when `cpu` is undefined). */
function onCore(cpu, command, args) {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
}

module.exports = { corePlan, onCore };
