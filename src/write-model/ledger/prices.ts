import { SMS_PRICES_FEN } from '../sms-message/prices.js';

/**
 * The one price catalogue of metered charges, in integer cents (fen, CNY)
 * per unit. A charge carries its unit price (ChargePosted.unitPriceCents),
 * so changing this table never reprices a posting already made.
 *
 * - collection_run: one collection run past the plan's daily quota;
 * - publication: one publication past the plan's daily_publications;
 * - sms: one SMS segment, per destination country (ISO 3166-1 alpha-2),
 *   the SMS catalogue's price where it has one, else the default.
 */
export const LEDGER_ITEMS = ['collection_run', 'publication', 'sms'] as const;
export type LedgerItem = (typeof LEDGER_ITEMS)[number];

export interface PriceCatalogue {
  collection_run: number;
  publication: number;
  sms: { default: number; countries: Readonly<Record<string, number>> };
}

export const LEDGER_PRICES: PriceCatalogue = Object.freeze({
  collection_run: 20,
  publication: 50,
  sms: Object.freeze({ default: 10, countries: SMS_PRICES_FEN }),
});

/** The unit price of an item (for sms, of the country; the default when the country is not listed or not given). */
export function unitPriceCents(item: LedgerItem, country?: string | null, prices: PriceCatalogue = LEDGER_PRICES): number {
  if (item !== 'sms') return prices[item];
  const code = country?.toUpperCase();
  return code !== undefined && Object.hasOwn(prices.sms.countries, code) ? prices.sms.countries[code]! : prices.sms.default;
}
