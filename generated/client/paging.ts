// DO NOT EDIT: copied from scripts/client/src/paging.ts by `npm run generate`.
/**
 * Async iteration over the API's paged lists, whatever their paging: offset and total (004's
 * lists), an opaque `next_cursor` (runs, executions) or `next_seq` (events).
 *
 *   for await (const execution of client.executions.list({ status: 'failed' })) …
 *   for await (const page of client.executions.list().pages()) …
 */

/** The items of every page, fetched one page at a time as the loop asks for them. */
export interface Paged<Item, Page> extends AsyncIterable<Item> {
  /** The pages themselves (the API's response bodies). */
  pages(): AsyncIterable<Page>;
}

/**
 * A paged list from a page loader: `load(position)` fetches a page (position undefined for the
 * first), `items` reads its items and `next` the position of the next page, null at the end.
 */
export function paged<Item, Page, Position>(
  load: (position: Position | undefined) => Promise<Page>,
  items: (page: Page) => Item[],
  next: (page: Page, items: Item[]) => Position | null,
): Paged<Item, Page> {
  async function* pages(): AsyncGenerator<Page> {
    let position: Position | undefined;
    for (;;) {
      const page = await load(position);
      yield page;
      const list = items(page);
      const following = list.length === 0 ? null : next(page, list);
      if (following === null) return;
      position = following;
    }
  }
  return {
    pages,
    async *[Symbol.asyncIterator]() {
      for await (const page of pages()) yield* items(page);
    },
  };
}

/** 004's lists: `offset` and `limit` in, `total` out. */
export function byOffset<Item, Page extends { total: number; offset: number }>(
  load: (offset: number | undefined) => Promise<Page>,
  items: (page: Page) => Item[],
): Paged<Item, Page> {
  return paged(load, items, (page, list) =>
    page.offset + list.length < page.total ? page.offset + list.length : null,
  );
}

/** Cursor lists: `cursor` in, `next_cursor` out (null on the last page). */
export function byCursor<Item, Page extends { next_cursor?: string | null }>(
  load: (cursor: string | undefined) => Promise<Page>,
  items: (page: Page) => Item[],
): Paged<Item, Page> {
  return paged(load, items, (page) => page.next_cursor ?? null);
}
