import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { openApiDocument } from '../../src/adapters/http/openapi.js';
import { checkResponsesWith, type CheckedResponse, type ResponseProblem } from '../../src/adapters/http/response-check.js';

/**
 * The tests' response check: every answer of a defineRoute route has a
 * status and content type its route documents (an error answer too: its
 * status among the route's documented errors, its body the error envelope as
 * the document says), and a JSON body is validated,
 * as the client parses it, against the route's response schema in
 * the OpenAPI document the API serves (JSON Schema 2020-12, which OpenAPI 3.1
 * uses), with ajv. An object schema that lists its properties is taken as
 * closed: a field the document does not mention is a mismatch too (a client
 * knows of no field but the documented ones).
 */

type Schema = Record<string, unknown>;

/** ajv-formats is CommonJS: its default export is the plugin under NodeNext, whatever its typings say. */
const addFormats = ((addFormatsModule as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

export interface ResponseMismatch {
  /** METHOD /path as documented */
  route: string;
  status: number;
  problems: readonly ResponseProblem[];
}

/** Mismatches seen since the harness last took them (tests/setup/root-hooks.ts fails the test with them). */
const seen: ResponseMismatch[] = [];

export function takeResponseMismatches(): ResponseMismatch[] {
  return seen.splice(0);
}

export function describeMismatches(mismatches: readonly ResponseMismatch[]): string {
  return mismatches.map((m) => `  ${m.route} ${m.status}:\n${m.problems.map((p) => `    ${p.pointer || '(body)'}: ${p.message}`).join('\n')}`).join('\n');
}

/**
 * Installs the check for every route defined from now on and records each
 * mismatch; the server answers a 2xx mismatch 500 RESPONSE_SCHEMA_MISMATCH and
 * sends any other answer unchanged.
 */
export function enableResponseSchemaCheck(): void {
  checkResponsesWith((response) => {
    const problems = checkResponse(response);
    if (problems.length > 0) seen.push({ route: `${response.method.toUpperCase()} ${response.path}`, status: response.status, problems });
    return problems;
  });
}

/** The check itself: how `response` departs from what its route documents (empty: it matches). */
export function checkResponse(response: CheckedResponse): ResponseProblem[] {
  const documentedRoute = routeDocument(response.registry, response.method.toLowerCase(), response.path);
  if (!documentedRoute) return [{ pointer: '', message: 'the route is not in the OpenAPI document' }];
  const { operation, components, validators } = documentedRoute;
  const success = response.status >= 200 && response.status < 300;
  // said with the documented statuses of its kind: the successes for a success, the others for the rest
  const declared = Object.keys(operation.responses ?? {}).filter((s) => (Number(s) >= 200 && Number(s) < 300) === success);
  const documented = operation.responses?.[String(response.status)];
  if (!documented) {
    return [{ pointer: '', message: `status ${response.status} is not a documented response (documented: ${declared.join(', ') || 'none'})` }];
  }
  // a redirect (302, 304) is documented by its status and headers: its body, if any, is no client's business
  if (response.status >= 300 && response.status < 400) return [];
  const types = Object.keys(documented.content ?? {});
  if (response.kind === 'none') return types.length === 0 ? [] : [{ pointer: '', message: `answered without a body, documented: ${types.join(', ')}` }];
  const answered = mediaType(response.contentType);
  // image/* and the like: a range of types
  const media = Object.entries(documented.content ?? {}).find(([type]) => mediaTypeMatches(mediaType(type), answered));
  if (!media) return [{ pointer: '', message: `answered ${answered || 'no content type'}, documented: ${types.join(', ') || 'no body'}` }];
  if (response.kind === 'other') return [];
  const key = `${response.status} ${media[0]}`;
  let validate = validators.get(key);
  if (!validate) {
    try {
      validate = ajv.compile({ ...closed(rewriteRefs(media[1].schema ?? {})), $defs: components });
    } catch (error) {
      return [{ pointer: '', message: `the documented schema does not compile: ${(error as Error).message}` }];
    }
    validators.set(key, validate);
  }
  if (validate(response.body)) return [];
  return problemsOf(validate.errors ?? [], response.body);
}

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

interface RouteDocument {
  operation: Operation;
  /** the component schemas the operation refers to, as `$defs` */
  components: Record<string, Schema>;
  validators: Map<string, ValidateFunction>;
}

// unknown keywords (OpenAPI's example, discriminator, x-…) are annotations to a client's validator too
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);

const documentedRoutes = new WeakMap<OpenAPIRegistry, Map<string, RouteDocument | null>>();

/**
 * The route's part of the document /api/v1/openapi.json serves: the same
 * generator over the registry's components and this one route (the whole
 * document at once would hold up the first answer a test gets).
 */
function routeDocument(registry: OpenAPIRegistry, method: string, path: string): RouteDocument | null {
  let routes = documentedRoutes.get(registry);
  if (!routes) documentedRoutes.set(registry, (routes = new Map()));
  const key = `${method} ${path}`;
  const known = routes.get(key);
  if (known !== undefined) return known;
  const definitions = registry.definitions;
  const route = definitions.findLast((d) => d.type === 'route' && d.route.method === method && d.route.path === path);
  let found: RouteDocument | null = null;
  if (route) {
    const document = openApiDocument({ definitions: [...definitions.filter((d) => d.type !== 'route'), route] } as OpenAPIRegistry);
    const operation = (document.paths?.[path] as Record<string, Operation> | undefined)?.[method];
    const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
    if (operation) {
      const components = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, closed(rewriteRefs(schema))]));
      found = { operation, components, validators: new Map() };
    }
  }
  routes.set(key, found);
  return found;
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function mediaTypeMatches(documented: string, answered: string): boolean {
  if (documented === answered || documented === '*/*') return true;
  return documented.endsWith('/*') && answered.startsWith(documented.slice(0, -1));
}

/** `#/components/schemas/X` → the components schema's `$defs/X`. */
function rewriteRefs(value: unknown): any {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/') ? `#/$defs/${v.slice('#/components/schemas/'.length)}` : rewriteRefs(v),
    ]),
  );
}

const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const SUBSCHEMAS = ['items', 'not', 'additionalProperties', 'if', 'then', 'else', 'contains'];

/** An object schema that lists properties and says nothing of others admits no others. */
function closed(schema: any): any {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out: Schema = { ...schema };
  if (out.properties && typeof out.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(out.properties as Schema).map(([k, v]) => [k, closed(v)]));
    if (!('additionalProperties' in out) && !('unevaluatedProperties' in out) && !('patternProperties' in out)) out.unevaluatedProperties = false;
  }
  for (const k of SUBSCHEMA_LISTS) if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).map(closed);
  for (const k of SUBSCHEMAS) if (out[k] && typeof out[k] === 'object') out[k] = closed(out[k]);
  return out;
}

/** ajv's errors, said with the value found and the JSON pointer of where it is. */
function problemsOf(errors: readonly ErrorObject[], body: unknown): ResponseProblem[] {
  const problems = new Map<string, ResponseProblem>();
  for (const error of errors) {
    const at = valueAt(body, error.instancePath);
    const params = error.params as Record<string, unknown>;
    let problem: ResponseProblem;
    switch (error.keyword) {
      case 'unevaluatedProperties':
      case 'additionalProperties': {
        const name = String(params.unevaluatedProperty ?? params.additionalProperty);
        problem = { pointer: `${error.instancePath}/${name}`, message: `a field the schema does not document (value ${shown(valueAt(at, `/${name}`))})` };
        break;
      }
      case 'required':
        problem = { pointer: `${error.instancePath}/${String(params.missingProperty)}`, message: 'documented as required, missing' };
        break;
      case 'type':
        problem = { pointer: error.instancePath, message: `must be ${[params.type].flat().join(' or ')}, is ${shown(at)}` };
        break;
      case 'enum':
        problem = { pointer: error.instancePath, message: `${shown(at)} is not one of the documented values ${JSON.stringify(params.allowedValues)}` };
        break;
      case 'const':
        problem = { pointer: error.instancePath, message: `${shown(at)} is not the documented ${JSON.stringify(params.allowedValue)}` };
        break;
      case 'format':
        problem = { pointer: error.instancePath, message: `${shown(at)} is not a valid ${String(params.format)}` };
        break;
      default:
        problem = { pointer: error.instancePath, message: `${error.message ?? error.keyword} (${error.schemaPath}), is ${shown(at)}` };
    }
    problems.set(`${problem.pointer} ${problem.message}`, problem);
  }
  return [...problems.values()];
}

function valueAt(body: unknown, pointer: string): unknown {
  let value = body;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
