/**
 * `npm run demo`: the platform's main job on this machine, in a sandbox.
 *
 * 1. What it needs (the npm script has run `npm ci` already when
 *    node_modules was missing or older than package-lock.json): PostgreSQL
 *    and Redis answering on 127.0.0.1 (started when installed but stopped),
 *    and Chromium at CHROMIUM_PATH. As root, what is missing is installed from
 *    Debian's packages (apt-get); otherwise one line says what to install.
 * 2. Then sandbox/demo/run.ts: the sandbox sites, proxies and mail catcher,
 *    the platform in this process, the demo data, progress until Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { runDemo } from '../sandbox/demo/run.js';

const root = process.getuid?.() === 0;
let aptUpdated = false;

const say = (line: string) => console.log(`demo: ${line}`);
const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const run = (command: string, args: string[]) =>
  spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether something accepts TCP connections at host:port (within a second). */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket
      .once('connect', () => done(true))
      .once('error', () => done(false))
      .once('timeout', () => done(false));
  });
}

async function comesUp(host: string, port: number, seconds = 30): Promise<boolean> {
  for (let i = 0; i < seconds * 2; i++) {
    if (await answers(host, port)) return true;
    await sleep(500);
  }
  return false;
}

/** apt-get install as root, or the one line saying what to install. */
function aptInstall(packages: string[], what: string): void {
  if (!root || !has('apt-get')) throw new Error(`${what} is missing: install it (sudo apt-get install -y ${packages.join(' ')}) and run npm run demo again`);
  say(`installing ${packages.join(', ')} (apt-get)`);
  if (!aptUpdated) aptUpdated = run('apt-get', ['update']);
  if (!run('apt-get', ['install', '-y', '--no-install-recommends', ...packages]))
    throw new Error(`apt-get could not install ${packages.join(' ')}: install it and run npm run demo again`);
}

const isLocal = (host: string) => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);

async function ensurePostgres(url: URL): Promise<void> {
  const port = Number(url.port || 5432);
  if (await answers(url.hostname, port)) return;
  if (!isLocal(url.hostname)) throw new Error(`PostgreSQL at ${url.host} does not answer: start it, or point DATABASE_URL at one that runs`);
  let installed = false;
  if (!existsSync('/etc/postgresql') || readdirSync('/etc/postgresql').length === 0) {
    aptInstall(['postgresql'], 'PostgreSQL');
    installed = true;
  }
  const version = readdirSync('/etc/postgresql')
    .sort((a, b) => Number(a) - Number(b))
    .at(-1)!;
  if (installed) trustLoopback(version);
  if (!root)
    throw new Error(`PostgreSQL ${version} is installed but not running: start it (sudo pg_ctlcluster ${version} main start) and run npm run demo again`);
  const running = await answers(url.hostname, port); // the package's installation may have started it
  say(`${running ? 'reloading' : 'starting'} PostgreSQL ${version}`);
  run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', running ? 'reload' : 'start']);
  if (!(await comesUp(url.hostname, port))) throw new Error(`PostgreSQL ${version} did not come up on ${url.host}: see /var/log/postgresql/`);
}

/**
 * A cluster this script just installed lets the local `postgres` role in over
 * TCP on the loopback without a password, as DATABASE_URL's default expects
 * (Debian's default asks for a password it never set).
 */
function trustLoopback(version: string): void {
  const hba = `/etc/postgresql/${version}/main/pg_hba.conf`;
  const line = 'host all postgres 127.0.0.1/32 trust';
  const text = readFileSync(hba, 'utf8');
  if (text.includes(line)) return;
  say(`letting the postgres role in from 127.0.0.1 without a password (${hba})`);
  writeFileSync(hba, `# added by npm run demo\n${line}\n${text}`);
}

async function ensureRedis(url: URL): Promise<void> {
  const port = Number(url.port || 6379);
  if (await answers(url.hostname, port)) return;
  if (!isLocal(url.hostname)) throw new Error(`Redis at ${url.host} does not answer: start it, or point REDIS_URL at one that runs`);
  if (!has('redis-server')) aptInstall(['redis-server'], 'Redis');
  say('starting Redis');
  run('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no']);
  if (!(await comesUp(url.hostname, port))) throw new Error(`Redis did not come up on ${url.host}`);
}

function ensureChromium(path: string): void {
  const executable = () => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (executable()) return;
  if (path !== '/usr/bin/chromium') throw new Error(`no Chromium at CHROMIUM_PATH=${path}: install it (sudo apt-get install -y chromium) or fix CHROMIUM_PATH`);
  aptInstall(['chromium'], 'Chromium');
  if (!executable()) throw new Error('chromium was installed but /usr/bin/chromium is not there: set CHROMIUM_PATH to the browser');
}

try {
  await ensurePostgres(new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/collector'));
  await ensureRedis(new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379'));
  ensureChromium(process.env.CHROMIUM_PATH || '/usr/bin/chromium');
} catch (error) {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
process.exit(await runDemo());
