import { z } from 'zod';
import { decimalInteger } from './query.js';

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;

/** `?page=&per_page=` for a route's query schema; per_page above 100 is a 422, not silently clamped. */
export const paginationQuery = z.object({
  page: decimalInteger({ min: 1 }).default(1),
  per_page: decimalInteger({ min: 1, max: MAX_PER_PAGE }).default(DEFAULT_PER_PAGE),
});

// the read side's page types (src/read-api/page.ts); paginationQuery parses into a PageRequest
export { offsetOf, pageOf, type Page, type PageRequest, type Pagination } from '../../read-api/page.js';

/** The page's schema for OpenAPI responses. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    pagination: z.object({
      page: z.number().int(),
      per_page: z.number().int(),
      total: z.number().int(),
      total_pages: z.number().int(),
      has_next: z.boolean(),
      has_prev: z.boolean(),
    }),
  });
}
