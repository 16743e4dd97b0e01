import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Runs a scenario script of the published @prsm/realtime client (ESM only, so in its own Node
 * process) with the given arguments; resolves with its `{ done, result }` line. `onLine` sees
 * each other JSON line it prints (to act on the servers while it waits).
 */
export function runScenario(script: string, args: string[], onLine: (line: any) => void | Promise<void> = () => undefined, timeoutMs = 30_000): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: any;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (line.done) {
        clearTimeout(timer);
        return line.error ? reject(new Error(`${line.error}\n${stderr}`)) : resolve(line.result);
      }
      Promise.resolve(onLine(line)).catch(reject);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} ${args[0]} exited with ${code} without a result\n${stderr}`));
    });
  });
}
