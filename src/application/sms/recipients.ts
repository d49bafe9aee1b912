import { parseSmsNumber } from '../sms.js';
import { smsUnitPriceFen } from '../../write-model/sms-message/prices.js';

/**
 * A batch's recipients as written by a user → distinct E.164 numbers, in
 * the order given, with what was wrong with the others (index and problem),
 * read as the single send reads a number (SMS_DEFAULT_REGION for national
 * input; landlines, toll-free and countries not served refused).
 */
export interface InvalidRecipient {
  index: number;
  input: string;
  problem: string;
}

export interface ParsedRecipients {
  numbers: string[];
  invalid: InvalidRecipient[];
  duplicatesRemoved: number;
}

export function parseRecipients(inputs: readonly string[], defaultRegion: string): ParsedRecipients {
  const numbers: string[] = [];
  const seen = new Set<string>();
  const invalid: InvalidRecipient[] = [];
  let duplicatesRemoved = 0;
  inputs.forEach((input, index) => {
    const parsed = parseSmsNumber(input, defaultRegion);
    if (!parsed.ok) {
      invalid.push({ index, input, problem: parsed.problem });
      return;
    }
    if (smsUnitPriceFen(parsed.country) === null) {
      invalid.push({ index, input, problem: `SMS is not sent to ${parsed.country}` });
      return;
    }
    if (seen.has(parsed.e164)) {
      duplicatesRemoved++;
      return;
    }
    seen.add(parsed.e164);
    numbers.push(parsed.e164);
  });
  return { numbers, invalid, duplicatesRemoved };
}
