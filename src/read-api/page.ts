/**
 * Pages of a query, as the read side answers them (the HTTP layer only
 * parses `?page=&per_page=` into a PageRequest and documents the shape).
 */

export interface PageRequest {
  /** 1-based */
  page: number;
  per_page: number;
}

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
