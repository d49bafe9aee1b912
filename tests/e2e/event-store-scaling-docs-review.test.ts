import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { createPostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { PostgresEventStore } from '../../src/adapters/event-store/postgres/postgres-event-store.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { WrongExpectedVersionError } from '../../src/event-store/errors.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { userStream } from '../../src/write-model/user/decider.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { cliBinary, cliInProcess } from '../support/cli-in-process.js';
import { counterAggregate } from '../support/counter-decider.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { scratchDatabase } from '../support/scratch-database.js';
import { waitFor } from '../support/wait-for.js';

/**
 * docs/event-store.md and docs/scaling.md read claim by claim, as a new
 * operator or developer would, beside the README: what the contract suite,
 * the ordering, horizon, scavenge, lock-keeper and projector tests already
 * pin is left to them; what they do not is tried here on the real thing (the
 * configuration, the Postgres store, the CLI, projector processes).
 */
describe('docs/event-store.md and docs/scaling.md as a newcomer reads them (e2e review)', function () {
  this.timeout(60_000);
  const root = process.cwd();
  const eventStoreDoc = readFileSync('docs/event-store.md', 'utf8');
  const scalingDoc = readFileSync('docs/scaling.md', 'utf8');

  describe('what the docs point at', () => {
    it('every file, folder, migration and npm script the two docs name exists; compose and CI run EventStoreDB as they say', () => {
      const files = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));
      const everything = [...files('src'), ...files('tests'), ...files('migrations')];
      const missing: string[] = [];
      for (const doc of [eventStoreDoc, scalingDoc]) {
        for (const [, token] of doc.matchAll(/`([^`\s]+)`/g)) {
          const path = token!.replace(/[.,:]$/, '');
          if (/^\d{14}_[a-z_]+$/.test(path)) {
            if (!existsSync(`migrations/${path}.ts`)) missing.push(path);
          } else if (/^(src|tests|migrations|docs|\.ci)\//.test(path)) {
            if (path.includes('*')) {
              const [dir, pattern] = [path.slice(0, path.lastIndexOf('/')), path.slice(path.lastIndexOf('/') + 1)];
              const re = new RegExp(`^${pattern.replaceAll('.', '\\.').replaceAll('*', '.*')}$`);
              if (!readdirSync(dir).some((name) => re.test(name))) missing.push(path);
            } else if (!existsSync(path)) missing.push(path);
          } else if (/^[\w-]+\.ts$/.test(path)) {
            // a bare file name (`shared-tail.ts`): somewhere in the code
            if (!everything.some((f) => f.endsWith(`/${path}`))) missing.push(path);
          }
        }
        for (const m of doc.matchAll(/(?:docs\/[\w-]+\.md)/g)) if (!existsSync(m[0])) missing.push(m[0]);
      }
      expect(missing, 'named in the docs, absent from the repository').to.deep.equal([]);

      const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
      const named = [...`${eventStoreDoc}\n${scalingDoc}`.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!);
      expect(named).to.include.members(['test:contract', 'cli', 'start:projector', 'worker']);
      for (const name of named) expect(scripts, `npm run ${name}`).to.have.property(name);
      expect(scripts['start']).to.equal('tsx src/main/api.ts');
      expect(scripts['start:projector']).to.equal('tsx src/main/projector.ts');
      expect(scripts['worker']).to.equal('tsx src/main/worker.ts');
      expect(scripts['test:contract']).to.match(/tests\/contract/);

      // `docker compose --profile eventstoredb up -d eventstore`, then esdb://localhost:2113?tls=false
      const compose = readFileSync('docker-compose.yml', 'utf8');
      const service = /\n {2}eventstore:\n((?: {4}.*\n|\n)+)/.exec(compose)?.[1] ?? '';
      expect(service).to.match(/profiles: \[eventstoredb\]/);
      expect(service).to.match(/"127\.0\.0\.1:2113:2113"/);
      expect(service).to.match(/EVENTSTORE_INSECURE: "true"/);
      // CI: runs it when the variable is set and the probe reads from the server; says it was skipped otherwise
      const ci = readFileSync('.ci/run', 'utf8');
      expect(ci).to.include('tests/contract/eventstoredb-probe.ts');
      expect(ci).to.match(/EventStoreDB contract suite: SKIPPED/);
    });

    it('the contract suite, without EVENTSTORE_CONNECTION_STRING, says the EventStoreDB half was skipped', async () => {
      const env = { ...process.env, EVENTSTORE_CONNECTION_STRING: '' };
      const run = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['node_modules/mocha/bin/mocha.js', 'tests/contract/eventstoredb.test.ts'], { cwd: root, env });
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.on('data', (c) => (out += c));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out }));
      });
      expect(run.code, run.out).to.equal(0);
      expect(run.out).to.include('EventStoreDB contract suite skipped: EVENTSTORE_CONNECTION_STRING is not set');
      expect(run.out).to.match(/1 pending/);
    });
  });

  describe('a secured EventStoreDB: credentials or a CA with TLS off are refused at start', () => {
    const problems = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
        throw error;
      }
      return '';
    };
    // the client's own reading of the string (a third-party parser): its option keys are case-insensitive
    const parse = createRequire(`${root}/package.json`)('@eventstore/db-client/dist/Client/parseConnectionString.js').parseConnectionString as (s: string) => {
      tls?: boolean;
      tlsCAFile?: string;
    };

    it('whatever spelling of tls=false the client takes as TLS off (TLS=false, Tls=false) is refused with credentials or a CA', () => {
      const caFile = 'package.json'; // any readable file will do: the refusal comes first
      for (const string of ['esdb://es1:2113?tls=false', 'esdb://es1:2113?TLS=false', 'esdb://es1:2113?nodePreference=leader&Tls=false']) {
        expect(parse(string).tls, `the client reads ${string} as TLS off`).to.equal(false);
        expect(problems({ EVENTSTORE_CONNECTION_STRING: string, EVENTSTORE_USERNAME: 'ops', EVENTSTORE_PASSWORD: 'a-password' }), string).to.match(
          /EVENTSTORE_CONNECTION_STRING: credentials need TLS/,
        );
        expect(problems({ EVENTSTORE_CONNECTION_STRING: string, EVENTSTORE_TLS_CA_FILE: caFile }), string).to.match(
          /EVENTSTORE_CONNECTION_STRING: EVENTSTORE_TLS_CA_FILE needs TLS/,
        );
      }
      // TLS on (the default, or said): credentials are folded in
      for (const string of ['esdb://es1:2113', 'esdb://es1:2113?tls=true', 'esdb://es1:2113?TLS=true']) {
        expect(parse(string).tls ?? true, string).to.equal(true);
        const config = loadConfig({ EVENTSTORE_CONNECTION_STRING: string, EVENTSTORE_USERNAME: 'ops', EVENTSTORE_PASSWORD: 'a-password' });
        expect(config.EVENTSTORE_CONNECTION_STRING).to.equal(string.replace('es1', 'ops:a-password@es1'));
      }
      // a CA file in the string (any spelling the client takes) and in EVENTSTORE_TLS_CA_FILE: one place only
      expect(parse('esdb://es1:2113?tlscafile=%2Fca.pem').tlsCAFile).to.equal('/ca.pem');
      expect(problems({ EVENTSTORE_CONNECTION_STRING: 'esdb://es1:2113?tlscafile=%2Fca.pem', EVENTSTORE_TLS_CA_FILE: caFile })).to.match(
        /tlsCAFile is in EVENTSTORE_CONNECTION_STRING already/,
      );
    });

    it('a process started so exits 1 before doing anything, naming the variable, never showing the password', async () => {
      const run = await cliBinary(['consumers', 'status'], {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: testDatabaseUrl,
        REDIS_URL: testRedisUrl,
        EVENTSTORE_CONNECTION_STRING: 'esdb://es1:2113?TLS=false',
        EVENTSTORE_USERNAME: 'ops',
        EVENTSTORE_PASSWORD: 'hunter2-password',
      });
      expect(run.code).to.equal(1);
      expect(run.stderr).to.include('Invalid configuration');
      expect(run.stderr).to.match(/EVENTSTORE_CONNECTION_STRING: credentials need TLS/);
      expect(run.stdout + run.stderr).to.not.include('hunter2');
    });
  });

  describe('the Postgres store', () => {
    let db: { url: string; drop(): Promise<void> };
    let store: PostgresEventStore;
    let knex: Knex;
    const category = `docs${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const event = (type: string, n = 0) => ({ id: randomUUID(), type, data: { n } });

    before(async () => {
      db = await scratchDatabase('collector_esdocs');
      store = createPostgresEventStore({ connectionString: db.url, poolSize: 4 });
      knex = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 4 } });
    });
    after(async () => {
      await store?.close();
      await knex?.destroy();
      await db?.drop();
    });

    it('names streams <category>-<id> (user-42, subscription-42_qidian); orders $all by (transaction_id xid8, global_position)', async () => {
      expect(userStream('42')).to.equal('user-42');
      expect(subscriptionStream('42', 'qidian')).to.equal('subscription-42_qidian');
      const { rows } = await knex.raw<{ rows: { column_name: string; data_type: string; column_default: string }[] }>(
        `SELECT column_name, data_type, column_default FROM information_schema.columns WHERE table_name = 'es_events' AND column_name = 'transaction_id'`,
      );
      expect(rows).to.deep.equal([{ column_name: 'transaction_id', data_type: 'xid8', column_default: 'pg_current_xact_id()' }]);
      const { rows: pk } = await knex.raw<{ rows: { def: string }[] }>(
        `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'es_events'::regclass AND contype = 'p'`,
      );
      expect(pk[0]!.def).to.equal('PRIMARY KEY (transaction_id, global_position)');
    });

    it('es_streams holds only what some streams have: an append writes no row there, metadata or a delete does', async () => {
      const stream = `${category}-plain`;
      const first = await store.append(stream, [event('Opened'), event('Noted')], 'no_stream');
      expect(first.nextExpectedRevision).to.equal(1n);
      await store.append(stream, [event('Noted')], 1n);
      const rows = async (name: string) => Number((await knex('es_streams').where({ stream_name: name }).count<{ n: string }[]>('* as n'))[0]!.n);
      expect(await rows(stream), 'after appends').to.equal(0);
      await store.setStreamMetadata(stream, { maxCount: 10 });
      expect(await rows(stream), 'after a metadata write').to.equal(1);
      const other = `${category}-deleted`;
      await store.append(other, [event('Opened')], 'no_stream');
      expect(await rows(other)).to.equal(0);
      await store.deleteStream(other);
      expect(await rows(other), 'after a delete').to.equal(1);
    });

    it('wakes other processes by NOTIFY es_appended naming the types appended, at most one per 5 ms; an INSERT outside the store sends none', async () => {
      const listener = new pg.Client({ connectionString: db.url });
      await listener.connect();
      const payloads: string[] = [];
      listener.on('notification', (m) => payloads.push(m.payload ?? ''));
      await listener.query('LISTEN es_appended');
      try {
        const started = performance.now();
        const count = 120;
        for (let i = 0; i < count; i++) await store.append(`${category}-n${i % 7}`, [event(i % 2 ? 'Odd' : 'Even', i)]);
        const elapsed = performance.now() - started;
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(payloads.length, 'at least one').to.be.greaterThan(0);
        expect(payloads.length, `${payloads.length} NOTIFYs for ${count} appends in ${Math.round(elapsed)} ms`).to.be.at.most(Math.ceil(elapsed / 5) + 2);
        expect(payloads.length).to.be.below(count);
        expect(new Set(payloads.flatMap((p) => p.split(',')))).to.deep.equal(new Set(['Odd', 'Even']));

        // an append made outside the store: no NOTIFY (subscribers find it by polling)
        payloads.length = 0;
        await knex.raw(`INSERT INTO es_events (stream_name, stream_revision, event_id, event_type, data, metadata) VALUES (?, 0, ?, 'Raw', '{}', '{}')`, [
          `${category}-raw`,
          randomUUID(),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(payloads).to.deep.equal([]);
      } finally {
        await listener.end();
      }
    });

    it('after a scavenge (`npm run cli -- retention scavenge`), the ids of the events it deleted are no longer recognised as repeats', async () => {
      const stream = `${category}-scavenged`;
      const events = [0, 1, 2, 3].map((n) => event('Kept', n));
      await store.append(stream, events, 'no_stream');
      // before: a repeat of an old id writes nothing and answers where that event is
      const repeat = await store.append(stream, [events[1]!]);
      expect(repeat.nextExpectedRevision).to.equal(1n);
      await store.setStreamMetadata(stream, { maxCount: 1 });
      const run = await cliInProcess(['retention', 'scavenge', '--json'], {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: db.url,
        REDIS_URL: testRedisUrl,
      });
      expect(run.code, run.stderr).to.equal(0);
      expect(JSON.parse(run.stdout)).to.deep.include({ dryRun: false, events: 2, scavengedStreams: 1 });
      const left = await knex('es_events').where({ stream_name: stream }).orderBy('stream_revision').pluck('stream_revision');
      expect(left.map(Number), 'revision 0 and the newest stay').to.deep.equal([0, 3]);
      // after: the same id is a new event, at the next revision
      const again = await store.append(stream, [events[1]!]);
      expect(again.nextExpectedRevision).to.equal(4n);
      // one the scavenge kept is still recognised
      expect((await store.append(stream, [events[3]!])).nextExpectedRevision).to.equal(3n);
      expect(await knex('es_events').where({ stream_name: stream }).count<{ n: string }[]>('* as n')).to.deep.equal([{ n: '3' }]);
    });

    it('a stream that gains events after it left the scavenge queue is visited again only by `retention scavenge --all` (or a metadata change)', async () => {
      const stream = `${category}-regrown`;
      const scavenge = async (...args: string[]) => {
        const run = await cliInProcess(['retention', 'scavenge', ...args, '--json'], {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: db.url,
          REDIS_URL: testRedisUrl,
        });
        expect(run.code, run.stderr).to.equal(0);
        return JSON.parse(run.stdout) as { events: number; streams: number };
      };
      const revisions = async () => (await knex('es_events').where({ stream_name: stream }).orderBy('stream_revision').pluck('stream_revision')).map(Number);
      await store.append(
        stream,
        [0, 1, 2].map((n) => event('Grown', n)),
        'no_stream',
      );
      await store.setStreamMetadata(stream, { maxCount: 1 });
      await scavenge();
      expect(await revisions()).to.deep.equal([0, 2]);
      // nothing left to expire: it left the queue; appends do not put it back
      expect(await knex('es_streams').where({ stream_name: stream }).first('scavenge_at')).to.deep.equal({ scavenge_at: null });
      await store.append(
        stream,
        [3, 4].map((n) => event('Grown', n)),
      );
      await scavenge();
      expect(await revisions(), 'a run visits only the queue').to.deep.equal([0, 2, 3, 4]);
      expect((await scavenge('--all', '--dry-run')).events, 'a dry run of --all counts them').to.be.at.least(2);
      expect(await revisions()).to.deep.equal([0, 2, 3, 4]);
      await scavenge('--all');
      expect(await revisions(), '--all visits every stream with a retention').to.deep.equal([0, 4]);
      // a metadata change queues it again
      await store.append(
        stream,
        [5, 6].map((n) => event('Grown', n)),
      );
      await store.setStreamMetadata(stream, { maxCount: 2 });
      await scavenge();
      expect(await revisions()).to.deep.equal([0, 5, 6]);
    });

    it('an idle subscription still finds an event appended outside the store (no NOTIFY) by its back-off polls, capped at 500 ms', async () => {
      const type = `Quiet${category}`;
      const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: [type] } });
      const iterator = subscription[Symbol.asyncIterator]();
      try {
        // the first batch says it caught up; then nothing wakes it for long enough to reach the longest back-off
        for (;;) {
          const first = await iterator.next();
          if (first.done || first.value.caughtUp) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        const eventId = randomUUID();
        const insertedAt = performance.now();
        await knex.raw(`INSERT INTO es_events (stream_name, stream_revision, event_id, event_type, data, metadata) VALUES (?, 0, ?, ?, '{}', '{}')`, [
          `${category}-quiet`,
          eventId,
          type,
        ]);
        for (;;) {
          const next = await iterator.next();
          expect(next.done).to.equal(false);
          if (next.value.events.length === 0) continue;
          expect(next.value.events.map((e: { id: string }) => e.id)).to.deep.equal([eventId]);
          break;
        }
        // 500 ms at most between polls, plus the read
        expect(performance.now() - insertedAt).to.be.below(800);
      } finally {
        await subscription.close();
      }
    });

    it('a live subscription gathers a steady stream of appends into batches, reading at most once per 10 ms (minReadGapMs)', async () => {
      const type = `Steady${category}`;
      const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: [type] } });
      const iterator = subscription[Symbol.asyncIterator]();
      try {
        for (;;) {
          const first = await iterator.next();
          if (first.done || first.value.caughtUp) break;
        }
        const count = 150;
        const batches: { at: number; size: number }[] = [];
        const reading = (async () => {
          let seen = 0;
          while (seen < count) {
            const next = await iterator.next();
            if (next.done) break;
            if (next.value.events.length === 0) continue;
            seen += next.value.events.length;
            batches.push({ at: performance.now(), size: next.value.events.length });
          }
        })();
        const started = performance.now();
        for (let i = 0; i < count; i++) await store.append(`${category}-steady`, [event(type, i)]);
        const elapsed = performance.now() - started;
        await reading;
        expect(batches.reduce((n, b) => n + b.size, 0)).to.equal(count);
        expect(batches.length, `${batches.length} batches for ${count} appends in ${Math.round(elapsed)} ms`).to.be.at.most(Math.ceil(elapsed / 10) + 2);
        // (batches are handed over when a read ends, and reads take their own time: only their count is bounded)
        expect(batches.length).to.be.below(count / 3);
      } finally {
        await subscription.close();
      }
    });

    it('a conflict reruns the whole decision on fresh state, 4 attempts by default, then gives up with the conflict', async () => {
      const id = randomUUID();
      const aggregate = counterAggregate(null);
      await handle(store, aggregate, id, { type: 'Open', limit: 100 }, { context: { correlationId: id, causationId: id, actor: 'test' } });
      // every append of the command finds another writer got in first
      const interfering = new Proxy(store, {
        get(target, property, receiver) {
          if (property !== 'append') return Reflect.get(target, property, receiver);
          return async (...args: Parameters<PostgresEventStore['append']>) => {
            await target.append(`counter-${id}`, [{ id: randomUUID(), type: 'CounterIncremented', data: { by: 1 }, metadata: { schemaVersion: 2 } }]);
            return target.append(...args);
          };
        },
      });
      const seen: number[] = [];
      const outcome = await handle(
        interfering,
        aggregate,
        id,
        (state) => {
          seen.push(state.value);
          return { type: 'Increment' as const, by: 1 };
        },
        { context: { correlationId: id, causationId: id, actor: 'test' } },
      ).catch((error: unknown) => error);
      expect(outcome).to.be.instanceOf(WrongExpectedVersionError);
      // decided four times, each time on the state after the other writer's event
      expect(seen).to.deep.equal([0, 1, 2, 3]);
    });

    it("commits a consumer's batch with synchronous_commit off, in the transaction that writes its checkpoint", async () => {
      await store.append(`${category}-sync`, [event('SyncProbe')]);
      const seen: string[] = [];
      const consumer: Consumer = {
        name: `docs-review-sync-${category}`,
        filter: { eventTypes: ['SyncProbe'] },
        async handle(events, { tx }) {
          const { rows } = await tx.raw<{ rows: { synchronous_commit: string }[] }>('SHOW synchronous_commit');
          seen.push(...events.map(() => rows[0]!.synchronous_commit));
        },
      };
      await runConsumerToHead({ store, knex, databaseUrl: db.url }, consumer);
      expect(seen).to.deep.equal(['off']);
      // the server's setting, what the appends commit with
      const { rows } = await knex.raw<{ rows: { synchronous_commit: string }[] }>('SHOW synchronous_commit');
      expect(rows[0]!.synchronous_commit).to.equal('on');
    });
  });

  describe('projector processes (docs/scaling.md)', () => {
    let db: { url: string; drop(): Promise<void> };
    let admin: Knex;
    const children: ChildProcess[] = [];
    const logs = new Map<ChildProcess, string>();
    const prefix = `test-esdocs-${randomUUID().slice(0, 8)}`;
    const env = () => ({
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl,
      QUEUE_PREFIX: prefix,
    });

    const start = (extra: Record<string, string> = {}) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/projector.ts'], {
        cwd: root,
        env: { ...env(), LOG_LEVEL: 'info', DB_POOL_SIZE: '2', SHUTDOWN_TIMEOUT_MS: '5000', ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      logs.set(child, '');
      const keep = (chunk: Buffer) => logs.set(child, logs.get(child) + chunk.toString());
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      children.push(child);
      return child;
    };
    interface Line {
      time: string;
      msg: string;
      consumer?: string;
      from?: string;
    }
    const lines = (child: ChildProcess): Line[] =>
      logs
        .get(child)!
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line);
    const appName = (child: ChildProcess) => `projector ${hostname()} ${child.pid}`.slice(0, 63);
    interface Status {
      name: string;
      kind: string;
      checkpoint: string | null;
      heldBy: { applicationName: string } | null;
    }
    const status = async (): Promise<Status[]> => {
      const run = await cliInProcess(['consumers', 'status', '--json'], env());
      expect(run.code, run.stderr).to.equal(0);
      return JSON.parse(run.stdout) as Status[];
    };
    /** TCP ports the process listens on (its socket inodes in /proc/net/tcp*, state 0A) */
    const listening = (pid: number): number[] => {
      const inodes = new Set(
        readdirSync(`/proc/${pid}/fd`)
          .map((fd) => {
            try {
              return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
            } catch {
              return undefined;
            }
          })
          .filter(Boolean),
      );
      return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .slice(1)
          .map((l) => l.trim().split(/\s+/))
          .filter((cols) => cols[3] === '0A' && inodes.has(cols[9]))
          .map((cols) => Number.parseInt(cols[1]!.split(':')[1]!, 16)),
      );
    };
    const connections = async () =>
      (
        await admin.raw<{ rows: { application_name: string; query: string }[] }>(
          'SELECT application_name, query FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()',
          [new URL(db.url).pathname.slice(1)],
        )
      ).rows;
    /** who holds the session advisory lock hashtext(key) in this database: application_name and mode, per key */
    const holders = async (keys: readonly string[]): Promise<Map<string, { app: string; mode: string }[]>> => {
      const { rows } = await admin.raw<{ rows: { key: string; app: string; mode: string }[] }>(
        `SELECT k AS key, a.application_name AS app, l.mode
           FROM unnest(?::text[]) AS k
           JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                          AND l.database = (SELECT oid FROM pg_database WHERE datname = ?)
                          AND l.objid::bigint = (hashtext(k)::bigint & 4294967295)
                          AND l.classid::bigint = ((hashtext(k)::bigint >> 32) & 4294967295)
           JOIN pg_stat_activity a ON a.pid = l.pid`,
        [[...keys], new URL(db.url).pathname.slice(1)],
      );
      const out = new Map<string, { app: string; mode: string }[]>(keys.map((k) => [k, []]));
      for (const row of rows) out.get(row.key)!.push({ app: row.app, mode: row.mode });
      return out;
    };
    const dump = () => children.map((c) => `--- projector ${c.pid}:\n${logs.get(c)!.slice(-3000)}`).join('\n');

    before(async () => {
      db = await scratchDatabase('collector_esdocs_projector');
      admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    });
    after(async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await admin?.destroy();
      await db?.drop();
    });

    it('one projector runs about fifty consumers, logs each as subscribed at a <commit>-<prepare> position, holds DB_POOL_SIZE × 2 + 2 connections and no metrics port; a second shares them out', async () => {
      const a = start();
      let consumers: string[] = [];
      try {
        await waitFor(
          'the first projector runs every consumer',
          async () => {
            const all = await status();
            consumers = all.filter((c) => c.kind !== 'other').map((c) => c.name);
            return consumers.length > 0 && all.filter((c) => c.heldBy?.applicationName === appName(a)).length === all.length;
          },
          20_000,
          200,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${dump()}`);
      }
      // "about fifty: `consumers status` lists them"
      expect(consumers.length).to.be.within(40, 60);
      await waitFor(
        'every consumer logged as subscribed',
        async () => lines(a).filter((l) => l.msg === 'consumer subscribed').length >= consumers.length,
        5_000,
      );
      const subscribed = lines(a).filter((l) => l.msg === 'consumer subscribed');
      expect(subscribed.map((l) => l.consumer).sort()).to.deep.equal([...consumers].sort());
      for (const l of subscribed) expect(l.from, l.consumer).to.match(/^\d+-\d+$/);
      await waitFor(
        'the queue blockage detector running',
        async () => lines(a).some((l) => l.msg === 'queue blockage detector running in this process'),
        5_000,
      );
      // the locks as the doc names them: hashtext('consumer:<name>') each, the detector's, a shared group:projector
      const keys = [...consumers.map((name) => `consumer:${name}`), 'queue-blockage-detector', 'group:projector'];
      for (const [key, held] of await holders(keys)) {
        expect(held, key).to.deep.equal([{ app: appName(a), mode: key === 'group:projector' ? 'ShareLock' : 'ExclusiveLock' }]);
      }

      // connections: the knex pool (DB_POOL_SIZE 2), the event store's (2), one LISTEN, one lock connection
      const held = await connections();
      expect(held.length, JSON.stringify(held)).to.be.at.most(2 * 2 + 2);
      expect(held.filter((c) => c.application_name === appName(a))).to.have.length(1);
      expect(held.filter((c) => /^LISTEN es_appended/.test(c.query))).to.have.length(1);
      // no METRICS_PORT: no listener at all
      expect(listening(a.pid!)).to.deep.equal([]);
      expect(lines(a).map((l) => l.msg)).to.not.include('projector metrics listening');

      // a second projector (this one with METRICS_PORT): the first hands consumers over, each after it ran at least 5 s
      const b = start({ METRICS_PORT: '0', OPS_TOKEN: 'x'.repeat(32) });
      try {
        await waitFor(
          'the consumers shared out',
          async () => {
            const all = await status();
            const [ofA, ofB] = [appName(a), appName(b)].map((name) => all.filter((c) => c.heldBy?.applicationName === name).length);
            return ofA! + ofB! === all.length && ofA! <= Math.ceil(all.length / 2) && ofB! <= Math.ceil(all.length / 2);
          },
          25_000,
          200,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${dump()}`);
      }
      const handed = lines(a).filter((l) => l.msg.startsWith('consumer handed over'));
      expect(handed.length, 'handed over').to.be.at.least(Math.floor(consumers.length / 2) - 1);
      const at = (l: Line) => Date.parse(l.time);
      // the second logs a consumer as subscribed just after it took its lock
      await waitFor(
        'the second logged every consumer it took',
        async () => handed.every((h) => lines(b).some((l) => l.msg === 'consumer subscribed' && l.consumer === h.consumer)),
        5_000,
      ).catch(() => undefined);
      for (const h of handed) {
        const since = subscribed.find((s) => s.consumer === h.consumer)!;
        // the lock was taken just before the subscription was logged
        expect(at(h) - at(since), `${h.consumer} ran before it was handed over`).to.be.at.least(4_900);
        const taken = lines(b).find((l) => l.msg === 'consumer subscribed' && l.consumer === h.consumer);
        expect(taken, `${h.consumer} taken by the second`).to.not.equal(undefined);
        // "the other projector takes it within a second" (plus the time to subscribe)
        expect(at(taken!) - at(h), `${h.consumer} taken within about a second`).to.be.below(1_500);
      }
      // pg_locks counts the live projectors; each consumer and the queue blockage detector run in one of them, and
      // each projector holds at most its fair share, ceil(locks / projectors), the locks being one per consumer and
      // the detector's
      const after = await holders(keys);
      expect(
        after
          .get('group:projector')!
          .map((h) => h.app)
          .sort(),
      ).to.deep.equal([appName(a), appName(b)].sort());
      const exclusive = keys.filter((k) => k !== 'group:projector').map((k) => after.get(k)!);
      for (const held of exclusive) expect(held).to.have.length(1);
      const share = Math.ceil(exclusive.length / 2);
      for (const child of [a, b]) expect(exclusive.filter((held) => held[0]!.app === appName(child)).length).to.be.within(share - 1, share);
      // the second serves its metrics on a port of its own
      expect(listening(b.pid!)).to.have.length(1);
      // no connection per try: still two lock connections, one per projector
      const both = await connections();
      expect(both.filter((c) => c.application_name.startsWith('projector '))).to.have.length(2);
      expect(both.length).to.be.at.most(2 * (2 * 2 + 2));

      for (const child of [a, b]) {
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.kill('SIGTERM');
        expect(await exited).to.equal(0);
      }
    });
  });
});
