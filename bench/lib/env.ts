/** A benchmark setting from the environment: a positive number, the fallback when unset or empty; anything else stops the run. */
export function envNumber(name: string, fallback: number, { integer = false } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be a positive ${integer ? 'whole ' : ''}number, got "${raw}"`);
  }
  return n;
}

/** As envNumber, and `0` turns the thing off. */
export function envNumberOrZero(name: string, fallback: number): number {
  return process.env[name] === '0' ? 0 : envNumber(name, fallback);
}
