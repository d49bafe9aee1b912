import pg from 'pg';

/**
 * A session-level advisory lock on a connection of its own: held as long as
 * that connection lives, so a crashed holder frees it at once.
 */
export class AdvisoryLock {
  private client: pg.Client | undefined;
  private lostHandler: (() => void) | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly key: string,
  ) {}

  /** Tries once; true when this instance now holds the lock. */
  async tryAcquire(onLost: () => void): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.connectionString, application_name: `lock:${this.key}`.slice(0, 63) });
    const lost = () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.lostHandler?.();
    };
    // listening before connecting: the server's goodbye may come in the same packet as its welcome
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.key]);
      if (!rows[0]?.locked) {
        await client.end();
        return false;
      }
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    this.lostHandler = onLost;
    return true;
  }

  get held(): boolean {
    return this.client !== undefined;
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // closing the session releases the lock
    await client.end().catch(() => undefined);
  }
}
