/**
 * The fast lane: the operations that carry the load (starting an execution, reading one) are
 * checked against the spec by validators compiled once at startup and go straight to their
 * handlers; every other operation goes through express-openapi-validator.
 *
 * The checks are the validator's own, built the way it builds them: one schema over
 * `{ params, query, headers }` (Ajv coercing parameters) and one over the body (no coercion),
 * with its Ajv options and formats, unknown and empty query parameters refused first, and errors
 * in its shape, so the error mapping and an answer do not depend on the lane. test/api/fast-lane
 * sends the same requests through both lanes and compares the answers.
 *
 * What the lane saves a request: the validator's scan over every path of the spec, its parameter
 * mutator and property juggling, and six middleware layers. When responses are validated
 * (`FLOWRUNNER_VALIDATE_RESPONSES`, on in the tests), the lane checks them against the spec too.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import Ajv, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { isStorableDateTime } from './input-guard';
import { dispatch, type OperationRoute } from './router';
import { operationOfRequest, resolveParam, specDocument } from './spec';

/** The operations that take the fast lane: the start and read paths of the engine benchmark. */
export const FAST_OPERATIONS = ['runFlow', 'startRun', 'getExecution', 'getRun'];

/**
 * The operations whose body is not JSON but a stream their handler reads (an upload, which may be
 * far larger than the JSON limit): checked by the same compiled validators (parameters; the body
 * is the handler's), always, before the JSON body parser.
 */
export const STREAMED_BODY_OPERATIONS = ['uploadFile'];

type Schema = Record<string, unknown>;
type Doc = { paths: Record<string, Record<string, OperationDoc>>; components: Schema };
interface OperationDoc {
  operationId?: string;
  parameters?: Parameters<typeof resolveParam>[1][];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

/** express-openapi-validator's base Ajv options (its `AjvOptions.baseOptions`). */
const BASE_OPTIONS: Options = {
  strict: false,
  strictNumbers: true,
  strictTuples: true,
  allowUnionTypes: false,
  validateSchema: false,
  useDefaults: true,
  removeAdditional: false,
};

function newAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...BASE_OPTIONS, ...options });
  // The validator's formats: ajv-formats in its "fast" mode, then the server's own date-time.
  addFormats(ajv, { mode: 'fast' });
  ajv.addFormat('date-time', { type: 'string', validate: isStorableDateTime });
  return ajv;
}

/** An error in the shape express-openapi-validator throws, for the one error mapping. */
class RequestCheckError extends Error {
  readonly status = 400;
  constructor(
    message: string,
    readonly errors: { path: string; message: string; errorCode?: string }[],
  ) {
    super(message);
  }
}

/** The validator's `augmentAjvErrors` and `ajvErrorsToValidatorError`, and its message. */
function checkError(ajv: Ajv, errors: ErrorObject[]): RequestCheckError {
  for (const e of errors) {
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
    if (e.keyword === 'enum' && allowed) e.message = `${e.message}: ${allowed.join(', ')}`;
  }
  return new RequestCheckError(
    ajv.errorsText(errors, { dataVar: 'request' }),
    errors.map((e) => {
      const p = e.params as { missingProperty?: string; additionalProperty?: string; unevaluatedProperty?: string };
      const named = p.missingProperty ?? p.additionalProperty ?? p.unevaluatedProperty;
      return {
        path: named ? `${e.instancePath}/${named}` : e.instancePath,
        message: e.message ?? 'is invalid',
        errorCode: `${e.keyword}.openapi.validation`,
      };
    }),
  );
}

interface CompiledOperation {
  route: OperationRoute;
  queryNames: Set<string>;
  allowEmpty: Set<string>;
  general: ValidateFunction;
  body: ValidateFunction;
  responses: Map<string, ValidateFunction | undefined>;
  responseSchemas: OperationDoc['responses'];
}

const PARAM_FIELD: Record<string, 'query' | 'headers' | 'params' | 'cookies'> = {
  query: 'query',
  header: 'headers',
  path: 'params',
  cookie: 'cookies',
};

function compileOperation(
  doc: Doc,
  op: OperationDoc,
  route: OperationRoute,
  ajv: { general: Ajv; body: Ajv; response: Ajv },
): CompiledOperation {
  const sections: Record<string, { type?: 'object'; properties?: Record<string, Schema>; required?: string[] }> = {
    query: {},
    headers: {},
    params: {},
    cookies: {},
  };
  const allowEmpty = new Set<string>();
  for (const raw of op.parameters ?? []) {
    const p = resolveParam(doc, raw) as {
      in: string;
      name: string;
      required?: boolean;
      schema?: Schema;
      allowEmptyValue?: boolean;
    };
    const section = sections[PARAM_FIELD[p.in]];
    const name = p.in === 'header' ? p.name.toLowerCase() : p.name;
    section.type = 'object';
    (section.properties ??= {})[name] = p.schema ?? {};
    if (p.required) (section.required ??= []).push(name);
    if (p.in === 'query' && p.allowEmptyValue) allowEmpty.add(name);
  }
  const bodySchema = op.requestBody?.content?.['application/json']?.schema ?? {};
  const components = doc.components;
  const general = ajv.general.compile({
    components,
    required: ['query', 'headers', 'params'],
    properties: { ...sections, body: {} },
  });
  const body = ajv.body.compile({
    components,
    properties: { query: {}, headers: {}, params: {}, cookies: {}, body: bodySchema },
    ...(bodySchema.required ? { required: ['body'] } : {}),
  });
  return {
    route,
    queryNames: new Set(Object.keys(sections.query.properties ?? {})),
    allowEmpty,
    general,
    body,
    responses: new Map(),
    responseSchemas: op.responses,
  };
}

/** The response check for a status (the spec's `default` otherwise), compiled at its first use. */
function responseCheck(
  ajv: Ajv,
  components: Schema,
  op: CompiledOperation,
  status: number,
): ValidateFunction | undefined {
  const key = String(status);
  if (!op.responses.has(key)) {
    const declared = op.responseSchemas[key] ?? op.responseSchemas.default;
    const schema = declared?.content?.['application/json']?.schema;
    op.responses.set(key, schema ? ajv.compile({ components, ...schema }) : undefined);
  }
  return op.responses.get(key);
}

/**
 * The middleware: for a request to one of `operations` (after authentication and the body), the
 * compiled checks, then the handler; any other request passes on to the validator.
 */
export function fastLane(
  routes: Map<string, OperationRoute>,
  opts: { validateResponses: boolean; operations?: string[] },
): RequestHandler {
  const doc = structuredClone(specDocument()) as unknown as Doc;
  const ajv = {
    general: newAjv({ coerceTypes: true }),
    body: newAjv({ coerceTypes: false }),
    response: newAjv({ coerceTypes: false, useDefaults: false }),
  };
  const compiled = new Map<string, CompiledOperation>();
  for (const [, item] of Object.entries(doc.paths)) {
    for (const op of Object.values(item)) {
      const route = op.operationId ? routes.get(op.operationId) : undefined;
      if (route && (opts.operations ?? FAST_OPERATIONS).includes(route.operationId))
        compiled.set(route.operationId, compileOperation(doc, op, route, ajv));
    }
  }
  const checkResponse = (op: CompiledOperation, req: Request, res: Response, next: NextFunction) => {
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const check = responseCheck(ajv.response, doc.components, op, res.statusCode);
      if (check && !check(body)) {
        res.json = json;
        next(
          Object.assign(
            new Error(
              `response does not match the spec: ${ajv.response.errorsText(check.errors, { dataVar: 'response' })}`,
            ),
            {
              request_id: req.id,
            },
          ),
        );
        return res;
      }
      return json(body);
    };
  };
  return (req, res, next) => {
    const found = operationOfRequest(req);
    const op = found && compiled.get(found.op.operationId);
    if (!op || !found) return next();
    let params: Record<string, string>;
    try {
      params = Object.fromEntries(Object.entries(found.pathParams).map(([k, v]) => [k, decodeURIComponent(v)]));
    } catch {
      return next(new RequestCheckError("malformed uri'", []));
    }
    const query: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
    for (const name of Object.keys(query)) {
      if (!op.queryNames.has(name))
        return next(
          new RequestCheckError(`Unknown query parameter '${name}'`, [
            { path: `/query/${name}`, message: `Unknown query parameter '${name}'` },
          ]),
        );
      if (query[name] === '' && !op.allowEmpty.has(name))
        return next(
          new RequestCheckError(`Empty value found for query parameter '${name}'`, [
            { path: `/query/${name}`, message: `Empty value found for query parameter '${name}'` },
          ]),
        );
    }
    const data = { query, headers: req.headers, params, cookies: undefined, body: req.body as unknown };
    const generalOk = op.general(data);
    const bodyOk = op.body(data);
    if (!generalOk || !bodyOk)
      return next(checkError(ajv.general, [...(op.general.errors ?? []), ...(op.body.errors ?? [])]));
    if (opts.validateResponses) checkResponse(op, req, res, next);
    void dispatch(op.route, { pathParams: params, query }, req, res, next);
  };
}
