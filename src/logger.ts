import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** Keys whose values never reach a log line, at any depth (`refresh_token`, `jwtSecret`, `Set-Cookie`, ...). */
const SECRET_KEY = /passw(or)?d|token|cookie|authorization|secret|credential|api[-_]?key|private[-_]?key|encryption[-_]?keys?/i;
const REDACTED = '[REDACTED]';
const MAX_DEPTH = 8;

export interface LoggerOptions {
  /** tells the processes apart in shared output (api, projector) */
  name?: string;
  /** default stdout */
  destination?: DestinationStream;
}

/**
 * Structured JSON logs, one line per entry. Entries are redacted; child
 * bindings are not (pino formats them once, unhooked): bind ids, not data.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: config.LOG_LEVEL,
      name: options.name,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecrets(object) as typeof object,
      },
    },
    options.destination,
  );
}

/**
 * A copy of `value` with secret-looking keys masked. Pino's own `redact`
 * needs exact paths; this matches key names anywhere in plain objects and
 * arrays, and leaves other objects (errors, dates, buffers) to the serializers.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  // cut rather than pass through unchecked (cycles end here too)
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = SECRET_KEY.test(key) ? REDACTED : redactSecrets(item, depth + 1);
  }
  return copy;
}
