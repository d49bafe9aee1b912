import { Router } from '@koa/router';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import Koa from 'koa';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { createHttpApi, defineRoute, type HttpApi } from '../../src/adapters/http/define-route.js';
import { ok } from '../../src/adapters/http/envelope.js';
import { errorEnvelope } from '../../src/adapters/http/middleware/error-envelope.js';
import { requestId } from '../../src/adapters/http/middleware/request-id.js';
import { checkResponsesWith } from '../../src/adapters/http/response-check.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import type { AppContext, AppState } from '../../src/adapters/http/state.js';
import { HttpError } from '../../src/adapters/http/http-error.js';
import { createLogger } from '../../src/logger.js';
import { enableResponseSchemaCheck, takeResponseMismatches } from '../support/response-schema-check.js';

const thing = z.object({
  id: z.string(),
  status: z.enum(['open', 'closed']),
  closed_at: z.string().nullable(),
  tags: z.array(z.string()),
  note: z.string().optional(),
});
type Thing = z.input<typeof thing>;
const GOOD: Thing = { id: 't1', status: 'open', closed_at: null, tags: ['a'] };

/** A small API of its own: the real defineRoute, envelope and error middleware, and routes answering what the test says. */
async function startSmallApi(answers: {
  thing: () => unknown;
  status?: number;
  /** what GET /things/:id/export answers: a JSON array streamed as a download, or a file of this type */
  fileType?: string;
  /** what GET /things/:id/state (documenting 409 among its errors) does: throw, or answer itself */
  state?: (ctx: AppContext) => void;
}): Promise<{ server: RunningServer; api: HttpApi; router: Router<AppState> }> {
  const api = createHttpApi();
  const router = new Router<AppState>({ prefix: '/api/v1/small' });
  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/things/:id',
      summary: 'A thing',
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: { description: 'the thing', schema: thing } },
    },
    (_input, ctx) => ok(ctx, answers.thing(), answers.status ?? 200),
  );
  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/things/:id/export',
      summary: 'A download',
      envelope: false,
      responses: { 200: { description: 'the things', contentType: ['application/json', 'text/csv'], schema: z.array(thing) } },
    },
    (_input, ctx) => {
      ctx.status = 200;
      ctx.type = answers.fileType ?? 'application/json';
      ctx.body = answers.fileType ? 'id\nt1\n' : Readable.from([Buffer.from('['), Buffer.from(JSON.stringify(answers.thing())), Buffer.from(']')]);
    },
  );
  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/things/:id/state',
      summary: 'A state',
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: { description: 'the state', schema: z.string() } },
      errors: [409],
    },
    (_input, ctx) => answers.state?.(ctx) ?? 'open',
  );
  const app = new Koa<AppState>();
  // a download broken off is an error Koa would print
  app.silent = true;
  app.use(requestId(createLogger({ LOG_LEVEL: 'silent' })));
  app.use(errorEnvelope());
  app.use(router.routes());
  return { server: await listen(app.callback(), '127.0.0.1', 0), api, router };
}

async function get(server: RunningServer, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: await res.json() };
}

describe('The response schema check (test harness)', () => {
  let small: Awaited<ReturnType<typeof startSmallApi>> | undefined;
  afterEach(async () => {
    if (small) await closeServer(small.server.server);
    small = undefined;
    // whatever a case provoked on purpose is not a mismatch of the case itself
    takeResponseMismatches();
  });

  it('lets an answer that matches the documented schema through, optional fields left out or given', async () => {
    let answer: Thing = GOOD;
    small = await startSmallApi({ thing: () => answer });
    const first = await get(small.server, '/api/v1/small/things/t1');
    expect(first.status).to.equal(200);
    expect(first.body.data).to.deep.equal(GOOD);
    answer = { ...GOOD, status: 'closed', closed_at: '2025-01-01T00:00:00.000Z', note: 'n' };
    expect((await get(small.server, '/api/v1/small/things/t1')).status).to.equal(200);
    expect(takeResponseMismatches()).to.deep.equal([]);
  });

  it('answers 500 RESPONSE_SCHEMA_MISMATCH naming the route, status, JSON path and problem of each departure', async () => {
    small = await startSmallApi({ thing: () => ({ id: 't1', status: 'archived', closed_at: undefined, tags: [1], extra: true }) });
    const reply = await get(small.server, '/api/v1/small/things/t1');
    expect(reply.status).to.equal(500);
    expect(reply.body.error.code).to.equal('RESPONSE_SCHEMA_MISMATCH');
    expect(reply.body.error.details).to.include({ route: 'GET /api/v1/small/things/{id}', status: 200 });
    const problems = reply.body.error.details.problems as { pointer: string; message: string }[];
    const at = (pointer: string) => problems.filter((p) => p.pointer === pointer).map((p) => p.message);
    expect(at('/data/status')).to.deep.equal(['"archived" is not one of the documented values ["open","closed"]']);
    // undefined is left out of the JSON: what the client sees is a missing field, not a null
    expect(at('/data/closed_at')).to.deep.equal(['documented as required, missing']);
    expect(at('/data/tags/0')).to.deep.equal(['must be string, is 1']);
    expect(at('/data/extra')).to.deep.equal(['a field the schema does not document (value true)']);
    expect(reply.body.error.message).to.contain('GET /api/v1/small/things/{id} answered 200 outside its documented schema');
    // and the harness has it, to fail the test that provoked it
    const mismatches = takeResponseMismatches();
    expect(mismatches).to.have.length(1);
    expect(mismatches[0]).to.deep.include({ route: 'GET /api/v1/small/things/{id}', status: 200 });
  });

  it('checks the JSON the client gets: a Date is sent as a string, so a schema saying string is kept', async () => {
    small = await startSmallApi({ thing: () => ({ ...GOOD, closed_at: new Date('2025-01-01T00:00:00Z') }) });
    expect((await get(small.server, '/api/v1/small/things/t1')).status).to.equal(200);
    expect(takeResponseMismatches()).to.deep.equal([]);
  });

  it('a success status the route does not document is a mismatch', async () => {
    small = await startSmallApi({ thing: () => GOOD, status: 202 });
    const reply = await get(small.server, '/api/v1/small/things/t1');
    expect(reply.status).to.equal(500);
    expect(reply.body.error.details.problems).to.deep.equal([{ pointer: '', message: 'status 202 is not a documented response (documented: 200)' }]);
    expect(takeResponseMismatches()).to.have.length(1);
  });

  it('checks a streamed JSON download as it ends: a matching one arrives whole, another is broken off and named', async () => {
    let answer: unknown = GOOD;
    small = await startSmallApi({ thing: () => answer });
    const whole = await fetch(`${small.server.url}/api/v1/small/things/t1/export`);
    expect(whole.status).to.equal(200);
    expect(await whole.json()).to.deep.equal([GOOD]);
    expect(takeResponseMismatches()).to.deep.equal([]);

    answer = { ...GOOD, tags: 'a' };
    const broken = await fetch(`${small.server.url}/api/v1/small/things/t1/export`);
    // the status went out with the first bytes: the body is what fails
    expect(broken.status).to.equal(200);
    let read: unknown;
    try {
      read = await broken.json();
    } catch (error) {
      read = error;
    }
    expect(read).to.be.an('error');
    expect(takeResponseMismatches()).to.deep.equal([
      { route: 'GET /api/v1/small/things/{id}/export', status: 200, problems: [{ pointer: '/0/tags', message: 'must be array, is "a"' }] },
    ]);
  });

  it('a file answer must be of a content type the route documents', async () => {
    small = await startSmallApi({ thing: () => GOOD, fileType: 'text/csv; charset=utf-8' });
    const csv = await fetch(`${small.server.url}/api/v1/small/things/t1/export`);
    expect(csv.status).to.equal(200);
    expect(await csv.text()).to.equal('id\nt1\n');
    await closeServer(small.server.server);

    small = await startSmallApi({ thing: () => GOOD, fileType: 'application/pdf' });
    const pdf = await get(small.server, '/api/v1/small/things/t1/export');
    expect(pdf.status).to.equal(500);
    expect(pdf.body.error.details.problems).to.deep.equal([{ pointer: '', message: 'answered application/pdf, documented: application/json, text/csv' }]);
    expect(takeResponseMismatches()).to.have.length(1);
  });

  it('an error status the route does not document is recorded for the harness, and the answer goes out as it was', async () => {
    small = await startSmallApi({
      thing: () => GOOD,
      state: () => {
        throw new HttpError(404, 'NOT_FOUND', 'no such thing');
      },
    });
    const reply = await get(small.server, '/api/v1/small/things/t1/state');
    expect(reply.status).to.equal(404);
    expect(reply.body).to.deep.include({ success: false, error: { code: 'NOT_FOUND', message: 'no such thing', details: {} } });
    expect(takeResponseMismatches()).to.deep.equal([
      {
        route: 'GET /api/v1/small/things/{id}/state',
        status: 404,
        problems: [{ pointer: '', message: 'status 404 is not a documented response (documented: 409, 422, 500, 503)' }],
      },
    ]);
  });

  it('an error body that is not the documented error envelope is recorded, and sent as it was', async () => {
    small = await startSmallApi({
      thing: () => GOOD,
      state: (ctx) => {
        ctx.status = 409;
        ctx.body = { error: 'taken' };
      },
    });
    const reply = await get(small.server, '/api/v1/small/things/t1/state');
    expect(reply.status).to.equal(409);
    expect(reply.body).to.deep.equal({ error: 'taken' });
    const mismatches = takeResponseMismatches();
    expect(mismatches).to.have.length(1);
    expect(mismatches[0]).to.deep.include({ route: 'GET /api/v1/small/things/{id}/state', status: 409 });
    expect(mismatches[0]!.problems).to.deep.include.members([
      { pointer: '/error', message: 'must be object, is "taken"' },
      { pointer: '/success', message: 'documented as required, missing' },
    ]);
  });

  it('a documented error status in the error envelope passes, and so does a genuine server error (500 is documented)', async () => {
    let failure: Error = new HttpError(409, 'CONFLICT', 'taken');
    small = await startSmallApi({
      thing: () => GOOD,
      state: () => {
        throw failure;
      },
    });
    const conflict = await get(small.server, '/api/v1/small/things/t1/state');
    expect(conflict.status).to.equal(409);
    expect(conflict.body.error.code).to.equal('CONFLICT');
    failure = new Error('a bug');
    const bug = await get(small.server, '/api/v1/small/things/t1/state');
    expect(bug.status).to.equal(500);
    expect(bug.body.error.code).to.equal('INTERNAL_ERROR');
    expect(takeResponseMismatches()).to.deep.equal([]);
  });

  it('off, a route gets no check at all: not a middleware more, and what it answers goes out as it is', async () => {
    checkResponsesWith(undefined);
    try {
      small = await startSmallApi({ thing: () => ({ wrong: true }) });
      const reply = await get(small.server, '/api/v1/small/things/t1');
      expect(reply.status).to.equal(200);
      expect(reply.body.data).to.deep.equal({ wrong: true });
      const withoutCheck = small.router.stack[0]!.stack.length;
      await closeServer(small.server.server);
      enableResponseSchemaCheck();
      small = await startSmallApi({ thing: () => GOOD });
      expect(small.router.stack[0]!.stack.length).to.equal(withoutCheck + 1);
    } finally {
      enableResponseSchemaCheck();
    }
    expect(takeResponseMismatches()).to.deep.equal([]);
  });

  it('fails a test whose answers departed from their schema even when the test never looks at the status', async function () {
    this.timeout(60_000);
    const run = await mocha('tests/support/response-mismatch.fixture.ts');
    expect(run.code, run.output).to.not.equal(0);
    expect(run.output).to.contain('1 passing');
    expect(run.output).to.contain('1 failing');
    expect(run.output).to.contain('the API answered outside its documented response schema');
    expect(run.output).to.contain('GET /api/v1/fixture/thing 200:');
    expect(run.output).to.contain('/data/count: must be integer, is "3"');
  });
});

/** This repository's mocha (root hooks and all) on one file, in a child process. */
function mocha(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node_modules/mocha/bin/mocha.js', '--reporter', 'spec', file], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
