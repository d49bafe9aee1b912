import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { qidianAlertsProjection } from '../../src/projections/qidian-alerts.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('qidian-alerts-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (h: number) => new Date(Date.UTC(2026, 11, 1, h)).toISOString();

  it('keeps one row per alert rule: created, changed, deleted, in one batch or across batches', async () => {
    const id = randomUUID();
    const userId = randomUUID();
    const stream = `novel_alert-${id}`;
    const ref = { alertId: id, userId, novelId: '1036370336' };
    const events = [
      recorded(stream, 'NovelAlertCreated', { ...ref, kind: 'update', words: null, createdAt: at(1) }, { revision: 0n }),
      recorded(stream, 'NovelAlertChanged', { ...ref, kind: 'word_count_threshold', words: 500000, changedAt: at(2) }, { revision: 1n }),
    ];
    for (const batchSize of [500, 1]) {
      await projectionSpec(knex, qidianAlertsProjection, { batchSize })
        .given(events)
        .then('qidian_alerts', { where: { id }, columns: ['user_id', 'novel_id', 'kind', 'words', 'status', 'created_at', 'updated_at', 'last_revision'] }, [
          {
            user_id: userId,
            novel_id: '1036370336',
            kind: 'word_count_threshold',
            words: '500000',
            status: 'active',
            created_at: at(1),
            updated_at: at(2),
            last_revision: '1',
          },
        ]);
    }
    await projectionSpec(knex, qidianAlertsProjection)
      .given([...events, recorded(stream, 'NovelAlertDeleted', { ...ref, deletedAt: at(3) }, { revision: 2n })])
      .then('qidian_alerts', { where: { id }, columns: ['kind', 'status', 'updated_at', 'last_revision'] }, [
        { kind: 'word_count_threshold', status: 'deleted', updated_at: at(3), last_revision: '2' },
      ]);
  });

  it('keeps one row per keyword watch; a re-watch revives it; other streams change nothing', async () => {
    const id = randomUUID();
    const other = randomUUID();
    const userId = randomUUID();
    const stream = `qidian_keyword-${id}`;
    const ref = { watchId: id, userId, keyword: '深海' };
    await projectionSpec(knex, qidianAlertsProjection, { batchSize: 2 })
      .given([
        recorded(stream, 'KeywordWatched', { ...ref, rewatched: false, watchedAt: at(1) }, { revision: 0n }),
        recorded(stream, 'KeywordUnwatched', { ...ref, unwatchedAt: at(2) }, { revision: 1n }),
        recorded(stream, 'KeywordWatched', { ...ref, rewatched: true, watchedAt: at(3) }, { revision: 2n }),
        // an unwatch of a watch never started, and an event of another stream category: nothing
        recorded(`qidian_keyword-${other}`, 'KeywordUnwatched', { watchId: other, userId, keyword: 'x', unwatchedAt: at(4) }, { revision: 1n }),
        recorded(`workflow-${id}`, 'KeywordWatched', { ...ref, rewatched: false, watchedAt: at(5) }, { revision: 0n }),
      ])
      .then('qidian_keywords', { where: { user_id: userId }, columns: ['id', 'keyword', 'status', 'created_at', 'updated_at', 'last_revision'] }, [
        { id, keyword: '深海', status: 'watching', created_at: at(3), updated_at: at(3), last_revision: '2' },
      ]);
  });

  it('ignores an event at or below the revision a row has (an old redelivery)', async () => {
    const id = randomUUID();
    const userId = randomUUID();
    const stream = `novel_alert-${id}`;
    const ref = { alertId: id, userId, novelId: '1' };
    await projectionSpec(knex, qidianAlertsProjection, { batchSize: 1 })
      .given([
        recorded(stream, 'NovelAlertCreated', { ...ref, kind: 'completion', words: null, createdAt: at(1) }, { revision: 0n }),
        recorded(stream, 'NovelAlertDeleted', { ...ref, deletedAt: at(2) }, { revision: 1n }),
        recorded(stream, 'NovelAlertCreated', { ...ref, kind: 'update', words: null, createdAt: at(1) }, { revision: 0n }),
      ])
      .then('qidian_alerts', { where: { id }, columns: ['kind', 'status'] }, [{ kind: 'completion', status: 'deleted' }]);
  });
});
