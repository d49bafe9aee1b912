/**
 * Walking the served OpenAPI document, for the sweeps that test every
 * operation it names (the fuzz, the documented bounds): its operations with
 * their parameters and JSON body schemas, and `$ref`s resolved.
 */

export type Schema = Record<string, any>;

export interface Operation {
  method: string;
  path: string;
  parameters: { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema?: Schema }[];
  /** the application/json request body's schema, if any */
  body?: Schema;
  /** whether it names a security requirement */
  auth: boolean;
}

/** The schema a `$ref` names (followed up to ten times), or the schema itself. */
export function resolve(schema: Schema | undefined, doc: Schema): Schema {
  let s = schema ?? {};
  for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) s = doc.components?.schemas?.[s.$ref.split('/').pop()!] ?? {};
  return s;
}

/** The providers' callbacks: they answer in the providers' own formats, and their own tests cover them. */
export const isProviderCallback = (path: string): boolean => path.includes('/payments/callback/') || path.includes('/sms/callbacks/');

/** Every GET/POST/PUT/PATCH/DELETE of the document but those `leaveOut` names, path-level parameters merged into each. */
export function operationsOf(doc: Schema, leaveOut: (path: string) => boolean = isProviderCallback): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(doc.paths ?? {})) {
    if (leaveOut(path)) continue;
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item[method];
      if (!op) continue;
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Schema) => resolve(p, doc)) as Operation['parameters'];
      out.push({
        method,
        path,
        parameters,
        body: op.requestBody?.content?.['application/json']?.schema,
        auth: Array.isArray(op.security) && op.security.length > 0,
      });
    }
  }
  return out;
}
