import pg from 'pg';
import { survivePoolErrors } from '../../db/pool-errors.js';
import type { Json } from '../../../event-store/port.js';
import type { Snapshot, SnapshotStore } from '../../../event-store/snapshots.js';

/** Snapshots in the `es_snapshots` table (migrations/20261204000000_snapshots.ts). */
export class PostgresSnapshotStore implements SnapshotStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool = false,
  ) {}

  /**
   * With a pool of its own; close() ends it. `asynchronousCommit`: writes do
   * not wait for the WAL flush — a snapshot is a cache, and one lost in a
   * crash is only folded again from the events.
   */
  static open(connectionString: string, poolSize = 4, options: { asynchronousCommit?: boolean } = {}): PostgresSnapshotStore {
    // a connection that breaks is replaced on the next use; nothing to do here
    const pool = survivePoolErrors(
      new pg.Pool({ connectionString, max: poolSize, ...(options.asynchronousCommit ? { options: '-c synchronous_commit=off' } : {}) }),
    );
    return new PostgresSnapshotStore(pool, true);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  async read(streamName: string, version: number): Promise<Snapshot | undefined> {
    const { rows } = await this.pool.query<{ revision: string; state: Json }>({
      name: 'es_snapshot_read',
      text: 'SELECT revision::text, state FROM es_snapshots WHERE stream_name = $1 AND version = $2',
      values: [streamName, version],
    });
    const row = rows[0];
    return row ? { streamName, revision: BigInt(row.revision), version, state: row.state } : undefined;
  }

  async write(snapshot: Snapshot): Promise<void> {
    // an older snapshot never overwrites a newer one of the same version (two writers racing)
    await this.pool.query({
      name: 'es_snapshot_write',
      text: `INSERT INTO es_snapshots (stream_name, revision, version, state) VALUES ($1, $2, $3, $4)
             ON CONFLICT (stream_name) DO UPDATE
               SET revision = excluded.revision, version = excluded.version, state = excluded.state, written_at = now()
             WHERE es_snapshots.version <> excluded.version OR es_snapshots.revision < excluded.revision`,
      values: [snapshot.streamName, snapshot.revision.toString(), snapshot.version, JSON.stringify(snapshot.state)],
    });
  }

  async delete(streamName: string): Promise<void> {
    // durable whatever the pool's setting: a forgotten delete would let a recreated stream start from the old life's state
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit = on');
      await client.query('DELETE FROM es_snapshots WHERE stream_name = $1', [streamName]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
