/**
 * Handler types derived from generated/types: a controller that no longer matches the spec fails
 * `tsc`. A handler gets the validated request and returns a status the spec lists, with its body.
 */
import type { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import type { operations } from '../../generated/types/api';
import type { Actor } from '../services/actor';

export type OperationId = keyof operations;

type Op<K extends OperationId> = operations[K];
type JsonContent<T> = T extends { content: { 'application/json': infer J } } ? J : undefined;
type Section<T, S extends string> = T extends { parameters: infer P }
  ? P extends Record<S, infer X>
    ? X extends undefined
      ? Record<string, never>
      : NonNullable<X>
    : Record<string, never>
  : Record<string, never>;

export type PathParams<K extends OperationId> = Section<Op<K>, 'path'>;
export type QueryParams<K extends OperationId> = Section<Op<K>, 'query'>;
export type Headers<K extends OperationId> = Section<Op<K>, 'header'>;
export type RequestBody<K extends OperationId> =
  Op<K> extends { requestBody?: infer B } ? JsonContent<NonNullable<B>> : undefined;
export type ResponseBody<K extends OperationId, S extends keyof Op<K>['responses']> = JsonContent<
  Op<K>['responses'][S]
>;

type SuccessStatus<K extends OperationId> = Extract<
  keyof Op<K>['responses'],
  200 | 201 | 202 | 204 | 206 | 302 | 303 | 304
>;

export type Reply<K extends OperationId> = {
  [S in SuccessStatus<K>]: {
    status: S;
    body: JsonContent<Op<K>['responses'][S]>;
    headers?: Record<string, string>;
    /** Bytes sent as the body instead of JSON (a file's download), streamed to the client. */
    stream?: Readable;
  };
}[SuccessStatus<K>];

export interface HandlerContext<K extends OperationId> {
  /** Who is calling; undefined only for public operations. */
  actor: Actor;
  params: PathParams<K>;
  query: QueryParams<K>;
  headers: Headers<K>;
  body: RequestBody<K>;
  req: Request;
  res: Response;
}

export type Handler<K extends OperationId> = (ctx: HandlerContext<K>) => Promise<Reply<K>>;

export type Handlers = { [K in OperationId]?: Handler<K> };
