/**
 * What one SMS segment costs the owner, per destination country (ISO 3166-1
 * alpha-2), in fen (CNY). A message costs its segments × the unit price of
 * its country, fixed when it is requested (SmsRequested carries both), so a
 * later change of this table never reprices a message already asked for.
 * A country missing here is not served: the request is refused (422).
 */
export const SMS_PRICES_FEN: Readonly<Record<string, number>> = Object.freeze({
  CN: 5,
  HK: 35,
  MO: 35,
  TW: 40,
  SG: 30,
  MY: 25,
  JP: 55,
  KR: 35,
  US: 8,
  CA: 8,
  GB: 30,
  DE: 60,
  FR: 55,
  AU: 40,
});

/** The countries SMS is sent to, in the table's order. */
export const SMS_COUNTRIES: readonly string[] = Object.keys(SMS_PRICES_FEN);

/** The unit price (fen per segment) of a country, or null when it is not served. */
export function smsUnitPriceFen(country: string): number | null {
  return Object.hasOwn(SMS_PRICES_FEN, country) ? SMS_PRICES_FEN[country]! : null;
}
