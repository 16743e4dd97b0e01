import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MESH_OPTION_DEFAULTS } from '../../lib/interfaces/mesh-module-options.interface';
import { freePort } from '../support/redis-server';
import { NodeProcess } from '../support/node-process';
import { uniquePrefix, waitFor } from '../support/test-app';
import { docBlocks } from './doc-blocks';
import { DocProjects } from './doc-project';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The ```text block that follows a line, in a page. */
function textBlockAfter(page: string, marker: string): string {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const at = text.indexOf(marker);
  const block = /```text\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (at < 0 || !block) throw new Error(`${page}: no text block after "${marker}"`);
  return block[1];
}

/**
 * Docs are code: every TypeScript block of README.md and docs/ compiles against the built package
 * with a Nest project's settings (partial blocks inside the wrapper they name), and the pages
 * that promise to run do run.
 */
describe('docs', () => {
  let projects: DocProjects;
  let problems: Map<string, string[]>;

  beforeAll(() => {
    projects = new DocProjects();
    for (const page of PAGES) projects.add(page, docBlocks(join(ROOT, page), page));
    problems = projects.compile(true);
  }, 120_000);

  it.each(PAGES)('%s: every TypeScript block compiles', (page) => {
    expect(problems.get(page) ?? []).toEqual([]);
  });

  it("the libraries' declarations (this package's included) compile with skipLibCheck: false", () => {
    expect(problems.get('libraries') ?? []).toEqual([]);
  });

  it('docs/options.md lists every option with its default', () => {
    const text = readFileSync(join(ROOT, 'docs', 'options.md'), 'utf8');
    for (const [option, value] of Object.entries(MESH_OPTION_DEFAULTS)) {
      const row = text.split('\n').find((line) => line.startsWith(`| \`${option}\` |`));
      expect([option, row === undefined ? 'missing' : 'listed']).toEqual([option, 'listed']);
      const shown = typeof value === 'object' ? JSON.stringify(value).replace(/"/g, '').replace(/:/g, ': ').replace(/,/g, ', ').replace(/^\{/, '{ ').replace(/\}$/, ' }') : String(value);
      expect([option, row!.includes(`\`${typeof value === 'string' ? `'${value}'` : shown}\``)]).toEqual([option, true]);
    }
  });

  it('docs/getting-started.md: the app starts and the client prints what the page says', async () => {
    const page = 'docs/getting-started.md';
    const port = await freePort();
    const server = spawn(process.execPath, [projects.output(page, 'main.ts')], { cwd: projects.folder(page), env: { ...process.env, PORT: String(port), REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    server.stdout.on('data', (d) => (logs += d));
    server.stderr.on('data', (d) => (logs += d));
    try {
      await waitFor(() => logs.includes('Nest application successfully started') || server.exitCode !== null, 20_000, 'the app to start');
      expect(server.exitCode).toBeNull();
      const { stdout } = await run(process.execPath, [projects.output(page, 'client.ts')], { env: { ...process.env, APP_URL: `http://127.0.0.1:${port}` }, timeout: 20_000 });
      expect(stdout.trim()).toBe(textBlockAfter(page, 'Its output:'));
    } finally {
      server.kill();
    }
  }, 60_000);

  it('README.md: the client quickstart runs as written against the sample app', async () => {
    const index = docBlocks(join(ROOT, 'README.md'), 'README.md').findIndex((b) => b.code.includes('process.env.MESH_URL'));
    expect(index).toBeGreaterThanOrEqual(0);
    const node = await NodeProcess.start({ keyPrefix: uniquePrefix(), env: { REDIS_URL: '' } });
    try {
      const { stdout } = await run(process.execPath, [projects.output('README.md', `block-${index + 1}.ts`)], { env: { ...process.env, MESH_URL: node.url }, timeout: 20_000 });
      expect(stdout.trim()).toBe(textBlockAfter('README.md', 'It prints:'));
    } finally {
      await node.stop();
    }
  }, 60_000);
});
