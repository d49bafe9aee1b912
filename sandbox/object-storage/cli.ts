import { parseArgs } from 'node:util';
import { startObjectStorage } from './server.js';

/**
 * `npx tsx sandbox/object-storage/cli.ts [--port 9000] [--host 127.0.0.1] [--bucket media] [--region us-east-1]`
 *
 * Starts the S3-compatible sandbox with a fresh key pair (objects in memory)
 * and prints MEDIA_STORAGE_URL for it: set it for the API and uploads go there.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9000' },
    host: { type: 'string', default: '127.0.0.1' },
    bucket: { type: 'string', default: 'media' },
    region: { type: 'string', default: 'us-east-1' },
  },
});

const sandbox = await startObjectStorage({ host: values.host, port: Number(values.port), buckets: [values.bucket], region: values.region });
console.error(`object storage sandbox listening on ${sandbox.url} (bucket ${values.bucket}, path style, SigV4 checked)`);
console.log(`MEDIA_STORAGE_URL="${sandbox.storageUrl(values.bucket)}"`);

const stop = async () => {
  await sandbox.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
