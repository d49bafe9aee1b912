import { z } from 'zod';

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;

/** `?page=&per_page=` for a route's query schema; per_page above 100 is a 422, not silently clamped. */
export const paginationQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(MAX_PER_PAGE).default(DEFAULT_PER_PAGE),
});

export type PageRequest = z.output<typeof paginationQuery>;

export interface Pagination {
  page: number;
  per_page: number;
  total: number;
  total_pages: number;
  has_next: boolean;
  has_prev: boolean;
}

export interface Page<T> {
  items: T[];
  pagination: Pagination;
}

/** Rows to skip for a page: `query.offset(offsetOf(p)).limit(p.per_page)`. */
export function offsetOf(request: PageRequest): number {
  return (request.page - 1) * request.per_page;
}

/** The API's page: `{items, pagination: {page, per_page, total, total_pages, has_next, has_prev}}`. */
export function pageOf<T>(items: T[], request: PageRequest, total: number): Page<T> {
  const totalPages = Math.ceil(total / request.per_page);
  return {
    items,
    pagination: {
      page: request.page,
      per_page: request.per_page,
      total,
      total_pages: totalPages,
      has_next: request.page < totalPages,
      has_prev: request.page > 1,
    },
  };
}

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
