/** Replies that several controllers give alike. */
import { toWorkflow } from '../presenters/executions.presenter';

export const message = (text: string) => ({ status: 200 as const, body: { message: text } });

/** The pinned snapshot with a weak ETag from its hash; 304 when the caller holds it already. */
export function definitionReply(v: Parameters<typeof toWorkflow>[0], ifNoneMatch: string | undefined) {
  const etag = `W/"${v.hash}"`;
  const held = (ifNoneMatch ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (held.includes(`"${v.hash}"`) || held.includes('*'))
    return { status: 304 as const, body: undefined, headers: { ETag: etag } };
  return { status: 200 as const, body: toWorkflow(v), headers: { ETag: etag } };
}
