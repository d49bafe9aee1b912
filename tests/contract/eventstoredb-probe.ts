/**
 * Whether the EventStoreDB named by EVENTSTORE_CONNECTION_STRING answers:
 * reads one event of $all within 5 s. Exit 0 when it does; 1, with the
 * reason on stderr, when it does not; 2 when the variable is unset.
 * CI runs the contract suite against EventStoreDB only after this says yes.
 */
import { BACKWARDS, END, EventStoreDBClient } from '@eventstore/db-client';

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
if (!connectionString) process.exit(2);
const client = EventStoreDBClient.connectionString(connectionString);
try {
  for await (const resolved of client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, deadline: 5_000 })) void resolved;
  process.exitCode = 0;
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  await client.dispose();
}
