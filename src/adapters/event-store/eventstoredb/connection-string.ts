/**
 * What a secured EventStoreDB cluster needs beside the connection string:
 * a user (its password kept out of the string, e.g. in a secret) and the CA
 * that signed the nodes' certificates when it is not a public one.
 */
export interface EventStoreDbSecurity {
  username?: string | undefined;
  password?: string | undefined;
  /** PEM file of the CA; the client reads it when it connects */
  tlsCAFile?: string | undefined;
}

const PREFIX = /^(esdb(?:\+discover)?:\/\/)([^@/?]*@)?(.*)$/s;

/**
 * The values the string gives an option, read as the client reads its keys: any case, `_` and `-` ignored
 * (`TLS=false` and `tls_ca_file=` are `tls` and `tlsCAFile` to it).
 */
function optionValues(connectionString: string, option: string): string[] {
  const flat = (key: string) => key.trim().toLowerCase().replace(/[_-]/g, '');
  const query = connectionString.slice(connectionString.indexOf('?') + 1 || connectionString.length);
  return query
    .split('&')
    .map((pair) => pair.split('='))
    .filter(([key, value]) => value !== undefined && flat(key!) === flat(option))
    .map(([, value]) => value!.trim());
}

/** Whether the string turns TLS off (`tls=false`, the last `tls` wins as for the client); the client's default is TLS on. */
export function tlsDisabled(connectionString: string): boolean {
  return optionValues(connectionString, 'tls').at(-1) === 'false';
}

export function hasCredentials(connectionString: string): boolean {
  return Boolean(PREFIX.exec(connectionString.trim())?.[2]);
}

/**
 * Problems with this combination, one line each (empty when it is usable):
 * credentials and a CA make sense only over TLS, and are given once.
 */
export function securityProblems(connectionString: string, security: EventStoreDbSecurity): string[] {
  const problems: string[] = [];
  const { username, password, tlsCAFile } = security;
  if ((username === undefined) !== (password === undefined)) problems.push('EVENTSTORE_USERNAME and EVENTSTORE_PASSWORD are set together or not at all');
  if (username !== undefined && hasCredentials(connectionString))
    problems.push('credentials are in EVENTSTORE_CONNECTION_STRING already: set them in one place');
  if (username !== undefined && tlsDisabled(connectionString))
    problems.push('credentials need TLS: remove tls=false from EVENTSTORE_CONNECTION_STRING (an insecure server has no users)');
  if (tlsCAFile !== undefined && tlsDisabled(connectionString))
    problems.push('EVENTSTORE_TLS_CA_FILE needs TLS: remove tls=false from EVENTSTORE_CONNECTION_STRING');
  if (tlsCAFile !== undefined && optionValues(connectionString, 'tlsCAFile').length > 0)
    problems.push('tlsCAFile is in EVENTSTORE_CONNECTION_STRING already: set it in one place');
  return problems;
}

/**
 * The connection string the client is given: the user's credentials after
 * the scheme and the CA file as `tlsCAFile`, both percent-encoded (the
 * client decodes them).
 */
export function secureConnectionString(connectionString: string, security: EventStoreDbSecurity): string {
  const text = connectionString.trim().replace(/\/+$/, '');
  const m = PREFIX.exec(text);
  if (!m) throw new TypeError('not an EventStoreDB connection string (esdb://… or esdb+discover://…)');
  let out = text;
  if (security.username !== undefined && security.password !== undefined) {
    out = `${m[1]}${encodeURIComponent(security.username)}:${encodeURIComponent(security.password)}@${m[3]}`;
  }
  if (security.tlsCAFile !== undefined) out += `${out.includes('?') ? '&' : '?'}tlsCAFile=${encodeURIComponent(security.tlsCAFile)}`;
  return out;
}
