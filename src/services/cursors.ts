/**
 * The opaque cursors of the lists that page by id (executions, files, connections): the last id of
 * a page, base64url JSON. A cursor that is not one this API returned — or one of another list,
 * told by its id's prefix — is a 400 naming the field.
 */
import { InvalidRequestError } from '../errors';

export function encodeIdCursor(id: string): string {
  return Buffer.from(JSON.stringify({ id })).toString('base64url');
}

/** The id in a cursor of the list whose ids start with `prefix` (`exec-`, `file-`, `conn-`). */
export function decodeIdCursor(cursor: string, prefix: string): string {
  try {
    const { id } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof id === 'string' && id.startsWith(prefix)) return id;
  } catch {
    // fall through
  }
  throw new InvalidRequestError('The cursor is not one this API returned', {
    field: 'cursor',
    reason: 'pass next_cursor from a previous page',
  });
}
