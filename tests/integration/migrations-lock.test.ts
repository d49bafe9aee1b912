import { expect } from 'chai';
import knexFactory from 'knex';
import { ensureDatabase } from '../../src/adapters/db/ensure-database.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { scratchDatabase } from '../support/scratch-database.js';

describe('migrations when processes start together or one was killed while migrating', function () {
  this.timeout(60_000);

  it('three processes migrating a new database at once all finish (indexes built concurrently wait for no waiting process)', async () => {
    const url = new URL(testDatabaseUrl);
    const name = `collector_migr_race_${Math.random().toString(16).slice(2, 10)}`;
    url.pathname = `/${name}`;
    await ensureDatabase(url.toString());
    const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    const processes = [1, 2, 3].map(() => knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 2 } }));
    try {
      const all = Promise.all(processes.map((knex) => runMigrations(knex)));
      const stuck = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the migrations waited for each other for 30 s')), 30_000).unref());
      const results = await Promise.race([all, stuck]);
      expect(results.filter((r) => r.ran.length > 0)).to.have.length(1); // one ran them, the others found nothing to do
    } finally {
      await Promise.all(processes.map((knex) => knex.destroy()));
      await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.destroy();
    }
  });

  it("start anyway: knex's lock left set is freed under the advisory lock that really guards them", async () => {
    const scratch = await scratchDatabase('collector_migr_lock');
    const knex = knexFactory({ client: 'pg', connection: scratch.url, pool: { min: 0, max: 2 } });
    try {
      await knex('knex_migrations_lock').update({ is_locked: 1 }); // what a SIGKILL mid-migration leaves
      const result = await runMigrations(knex);
      expect(result).to.deep.equal({ batch: 0, ran: [] });
      expect((await knex('knex_migrations_lock').select('is_locked')).map((r) => Number(r.is_locked))).to.deep.equal([0]);
    } finally {
      await knex.destroy();
      await scratch.drop();
    }
  });
});
