import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';

/** A Chromium to drive with playwright-core: its binary, and the environment it needs. */
export interface ChromiumBinary {
  executablePath: string;
  env?: Record<string, string>;
  /** Where it came from, for error messages. */
  source: 'CHROMIUM_PATH' | 'system' | '@sparticuz/chromium';
}

/** Flags for a headless run as root on a machine with no network beyond loopback. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/**
 * The libraries the packaged build links against beyond libc (NSS, NSPR, expat), shipped inside
 * the package as `al2023.tar.br`. The package only unpacks them on AWS Lambda; elsewhere (a fresh
 * Debian without a browser installed) they are missing, so they are unpacked here and put on
 * LD_LIBRARY_PATH. Unpacking happens once per machine, from the installed package: nothing is downloaded.
 */
function packagedLibraries(binDir: string): string {
  const target = join(tmpdir(), 'nestjs-mesh-chromium-libs');
  const libDir = join(target, 'lib');
  if (!existsSync(join(libDir, 'libnss3.so'))) {
    mkdirSync(target, { recursive: true });
    const tar = join(target, 'al2023.tar');
    writeFileSync(tar, brotliDecompressSync(readFileSync(join(binDir, 'al2023.tar.br'))));
    execFileSync('tar', ['-xf', tar, '-C', target]);
  }
  return libDir;
}

/**
 * `CHROMIUM_PATH`, then Debian's `/usr/bin/chromium`, then the headless build shipped inside the
 * `@sparticuz/chromium` dev dependency (unpacked from the package into the temp folder), so the
 * browser tests run on a fresh machine with nothing but `npm install`.
 */
export async function findChromium(): Promise<ChromiumBinary> {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} does not exist`);
    return { executablePath: configured, source: 'CHROMIUM_PATH' };
  }
  if (existsSync(SYSTEM_CHROMIUM)) return { executablePath: SYSTEM_CHROMIUM, source: 'system' };
  const packaged = require('@sparticuz/chromium') as { executablePath(input?: string): Promise<string> };
  const binDir = join(dirname(require.resolve('@sparticuz/chromium')), '..', '..', 'bin');
  const executablePath = await packaged.executablePath(binDir);
  const libDir = packagedLibraries(binDir);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    LD_LIBRARY_PATH: [libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    FONTCONFIG_PATH: join(tmpdir(), 'fonts'),
  };
  return { executablePath, env, source: '@sparticuz/chromium' };
}
