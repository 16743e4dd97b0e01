'use strict';
// Whether a node's CPU during a busy window can be told apart from its CPU while idle, from
// 1-second slices of each window (see sliceSampler in proc.js).

const MIN_SLICE_MS = 500; // a shorter, partial last slice is left out
const ABSOLUTE_FLOOR = 100; // µs/s: differences below 0.1 ms of CPU per second count as none

/**
 * A window's slices as CPU µs per second, without its busiest quarter (at least one slice when
 * there are 3 or more): a one-off burst (a garbage collection some 8 s after a node's traffic
 * stopped, socket.io's ping every 25 s) moves the mean of a few seconds by more than what is
 * looked for. Applied alike to idle and busy windows.
 */
function sliceRates(slices) {
  const rates = slices
    .filter((s) => s.ms >= MIN_SLICE_MS)
    .map((s) => (s.cpu / s.ms) * 1000)
    .sort((a, b) => a - b);
  const drop = rates.length < 3 ? 0 : Math.max(1, Math.floor(rates.length / 4));
  return rates.slice(0, rates.length - drop);
}

const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
const variance = (xs) => (xs.length < 2 ? 0 : xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

/**
 * Busy against idle rates (µs/s): the difference of the means, and "like idle" when it is within
 * two standard errors of that difference (or under 0.1 ms/s).
 */
function compareToIdle(idleRates, busyRates) {
  const idle = mean(idleRates);
  const busy = mean(busyRates);
  const margin = Math.max(2 * Math.sqrt(variance(idleRates) / idleRates.length + variance(busyRates) / busyRates.length), ABSOLUTE_FLOOR);
  return { idle, busy, excess: busy - idle, margin, likeIdle: Math.abs(busy - idle) <= margin };
}

module.exports = { sliceRates, compareToIdle, mean };
