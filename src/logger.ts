import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';
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
 * Structured JSON logs, one line per entry. Entries are redacted, errors
 * under `err` with the fields they carry, and so are a child's bindings.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, options: LoggerOptions = {}): Logger {
  const logger = pino(
    {
      level: config.LOG_LEVEL,
      name: options.name,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecrets(object) as typeof object,
      },
      // an error's own fields (a request's headers, a response's body, its cause) pass through the same mask
      serializers: { err: redactedError },
    },
    options.destination,
  );
  // pino formats a child's bindings once, past `formatters`: they are masked here instead. A child is made with
  // Object.create(parent), so every descendant inherits this `child` and masks its own bindings too.
  type Child = (this: unknown, bindings: Bindings, childOptions?: ChildLoggerOptions<string>) => unknown;
  const pinoChild = logger.child as unknown as Child;
  const maskedChild: Child = function (bindings, childOptions) {
    return pinoChild.call(this, redactSecrets(bindings) as Bindings, childOptions);
  };
  logger.child = maskedChild as unknown as Logger['child'];
  return logger;
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

/**
 * An error as pino serializes it (type, message with its causes', stack, own
 * fields) with secret-looking fields masked. Taken to plain JSON first:
 * pino's serialized errors are not plain objects, which the mask leaves
 * alone. A field JSON cannot hold (a cycle) leaves type, message and stack.
 */
function redactedError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown;
  try {
    const json = JSON.stringify(serialized, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
    return json === undefined ? undefined : redactSecrets(JSON.parse(json));
  } catch {
    const { type, message, stack } = (serialized ?? {}) as { type?: unknown; message?: unknown; stack?: unknown };
    return { type, message, stack };
  }
}
