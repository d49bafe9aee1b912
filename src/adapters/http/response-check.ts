import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Context, Middleware } from 'koa';
import type { ServerResponse } from 'node:http';
import { pipeline, Readable, Transform } from 'node:stream';
import { HttpError } from './http-error.js';
import type { AppState } from './state.js';

/** A route's answer as the client receives it. */
export interface CheckedResponse {
  /** the registry the route is documented in (its OpenAPI document is the contract) */
  registry: OpenAPIRegistry;
  method: string;
  /** OpenAPI form: /api/v1/things/{id} */
  path: string;
  status: number;
  /** empty when there is no body */
  contentType: string;
  /** json: `body` is what the client parses from the JSON text; other: a file (CSV, PDF, …) whose type alone is checked; none: no body */
  kind: 'json' | 'other' | 'none';
  body?: unknown;
}

/** One way an answer departs from its schema: where in the body (a JSON pointer) and what. */
export interface ResponseProblem {
  pointer: string;
  message: string;
}

/** Says how an answer departs from its route's documented schema (nothing: it matches). */
export type ResponseCheck = (response: CheckedResponse) => readonly ResponseProblem[];

let installed: ResponseCheck | undefined;

/**
 * Turns the response check on for every route defined from now on (the test
 * harness does, tests/setup/root-hooks.ts); undefined turns it off again. Off
 * (production), defineRoute adds nothing to a route.
 */
export function checkResponsesWith(check: ResponseCheck | undefined): void {
  installed = check;
}

/**
 * The middleware defineRoute puts first on a route while a check is installed:
 * a 2xx answer that departs from what the document says of it (its status,
 * its content type, a JSON body's schema) becomes 500 RESPONSE_SCHEMA_MISMATCH
 * naming the route, the status and each problem. Any other answer (an error
 * the route throws, which the app's error envelope then answers, or one the
 * route gives itself) is checked as it is sent, after every other middleware
 * had its say, and left as it is: the check records what departs (the test
 * harness fails the test with it) and the client gets the answer unchanged.
 */
export function responseCheckMiddleware(route: { registry: OpenAPIRegistry; method: string; path: string }): Middleware<AppState> | undefined {
  const check = installed;
  if (!check) return undefined;
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      checkWhenSent(ctx, route, check);
      throw error;
    }
    if (ctx.status < 200 || ctx.status >= 300) {
      checkWhenSent(ctx, route, check);
      return;
    }
    const name = `${route.method.toUpperCase()} ${route.path}`;
    const answer = { ...route, status: ctx.status, contentType: ctx.response.get('Content-Type') };
    const checked = (body: unknown) => (body === NOT_JSON ? [{ pointer: '', message: 'the body is not JSON' }] : check({ ...answer, kind: 'json', body }));
    let problems: readonly ResponseProblem[];
    if (ctx.body == null) problems = check({ ...answer, contentType: '', kind: 'none' });
    else if (!ctx.response.is('json')) problems = check({ ...answer, kind: 'other' });
    else if (ctx.body instanceof Readable) {
      // a streamed download (exports) is checked as it ends; its status is sent by then, so a mismatch breaks the download off
      ctx.body = pipeline(
        ctx.body,
        checkedAtEnd(name, answer.status, (text) => checked(parsed(text))),
        () => {},
      );
      return;
    } else problems = checked(asSentJson(ctx.body));
    if (problems.length > 0) throw mismatch(name, answer.status, problems);
  };
}

/**
 * Checks the answer as Koa sends it (status and body are final once it ends
 * the response: the error envelope, or whatever else answered, has run), before
 * its first byte leaves, so the mismatch is recorded by the time the client
 * has the answer. What the check says changes nothing of the answer.
 */
function checkWhenSent(ctx: Context, route: { registry: OpenAPIRegistry; method: string; path: string }, check: ResponseCheck): void {
  const res = ctx.res;
  const end = res.end;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    res.end = end;
    const answer = { ...route, status: ctx.status, contentType: ctx.response.get('Content-Type') };
    if (ctx.body == null) check({ ...answer, contentType: '', kind: 'none' });
    else if (!ctx.response.is('json') || ctx.body instanceof Readable) check({ ...answer, kind: 'other' });
    else {
      const body = asSentJson(ctx.body);
      // text that does not parse is checked as the string it is: no documented body is one
      check({ ...answer, kind: 'json', body: body === NOT_JSON ? String(ctx.body) : body });
    }
    return (end as (...endArgs: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.end;
}

function mismatch(name: string, status: number, problems: readonly ResponseProblem[]): HttpError {
  const listed = problems.map((p) => `${p.pointer || '(body)'}: ${p.message}`).join('; ');
  return new HttpError(500, 'RESPONSE_SCHEMA_MISMATCH', `${name} answered ${status} outside its documented schema: ${listed}`, {
    route: name,
    status,
    problems,
  });
}

/** Passes the stream through, keeping a copy, and checks the copy at the end: a mismatch fails the stream. */
function checkedAtEnd(name: string, status: number, check: (text: string) => readonly ResponseProblem[]): Transform {
  const chunks: Buffer[] = [];
  return new Transform({
    transform(chunk: Buffer | string, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done(null, chunk);
    },
    flush(done) {
      const problems = check(Buffer.concat(chunks).toString('utf8'));
      done(problems.length > 0 ? mismatch(name, status, problems) : null);
    },
  });
}

const NOT_JSON = Symbol('not JSON');

/** What the client parses: the text as sent (ok() serializes), or an object as Koa will serialize it. */
function asSentJson(body: unknown): unknown {
  if (typeof body === 'string') return parsed(body);
  if (Buffer.isBuffer(body)) return parsed(body.toString('utf8'));
  try {
    return JSON.parse(JSON.stringify(body));
  } catch {
    return NOT_JSON;
  }
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}
