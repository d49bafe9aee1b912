/**
 * `npm run rbac:table`: writes THE TABLE of docs/rbac.md — every signed-in
 * route of the OpenAPI document × the roles, allow or deny — from the route
 * registry (the API built as the api process builds it) and the access
 * policy. `npm run rbac:table -- --check` only says whether it is current
 * (exit 1 if not). Configured by the environment like `npm start`; the API
 * is built and asked for its document in this process (Redis is touched by
 * the rate limit, Postgres not at all).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { closeServer, listen } from '../src/adapters/http/server.js';
import { createApiApp } from '../src/api-app.js';
import { matrixRoutes, withMatrix } from '../src/application/authorization/matrix.js';
import { loadConfig } from '../src/config.js';
import { buildContainer, disposeContainer } from '../src/container.js';

const DOC = fileURLToPath(new URL('../docs/rbac.md', import.meta.url));
const check = process.argv.includes('--check');

const container = await buildContainer(loadConfig({ LOG_LEVEL: 'silent', ...process.env }));
let routes;
try {
  const app = createApiApp(container);
  const { server, url } = await listen(app.callback(), '127.0.0.1', 0);
  try {
    const reply = await fetch(`${url}/api/v1/openapi.json`);
    if (!reply.ok) throw new Error(`GET /api/v1/openapi.json answered ${reply.status}`);
    routes = matrixRoutes(await reply.json());
  } finally {
    app.emit('closing');
    await closeServer(server);
  }
} finally {
  await disposeContainer(container);
}

const before = await readFile(DOC, 'utf8');
const after = withMatrix(before, routes);
if (check) {
  console.log(after === before ? `docs/rbac.md: the table is current (${routes.length} routes)` : 'docs/rbac.md: the table is stale: run npm run rbac:table');
  process.exit(after === before ? 0 : 1);
}
if (after !== before) await writeFile(DOC, after);
console.log(`docs/rbac.md: ${routes.length} routes × roles ${after === before ? '(unchanged)' : 'written'}`);
