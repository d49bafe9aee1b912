import { expect } from 'chai';
import knexFactory from 'knex';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { scratchDatabase } from '../support/scratch-database.js';

describe('migrations after a process was killed while migrating', function () {
  this.timeout(60_000);

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
