import { InvalidArgumentError } from 'commander';
import { characterCount } from '../write-model/core/characters.js';

/**
 * An option's whole number, written in decimal digits, from `min` to `max`
 * (at most 2^53 − 1, the largest whole number a JavaScript number keeps
 * exactly). `1e3`, `0x10`, `1.0` or a number past that is a wrong call, not
 * a number read some other way or rounded, nor one the database refuses
 * later with its own message.
 */
export function wholeNumber(min: number, max: number = Number.MAX_SAFE_INTEGER, message = `a whole number from ${min} to ${max}`): (value: string) => number {
  return (value: string): number => {
    const digits = value.trim();
    const n = /^\d{1,16}$/.test(digits) ? Number(digits) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(message);
    return n;
  };
}

/** A decimal number (`0.5`, `2`): no exponent, no hexadecimal, no sign. */
export function decimal(value: string): number {
  const text = value.trim();
  return /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
}

/** A text option that must say something (an empty `"$VAR"` in a script is a mistake, not "no filter"); at most `max` characters (code points, as the domain counts). */
export function someText(what: string, max?: number): (value: string) => string {
  return (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError(`${what} must not be empty`);
    if (max !== undefined && characterCount(value) > max) throw new InvalidArgumentError(`${what} must be at most ${max} characters`);
    return value;
  };
}
