/**
 * The Express application: request ids, logs and metrics (one observer), the path and query checked as text, the
 * path and method checked against the spec (404, 405), meta routes, authentication, the operations
 * whose body is a stream (uploads), then the JSON body (read only for an operation that takes one,
 * after authentication; 1 MiB),
 * express-openapi-validator (requests always, responses when configured), the operations, and the
 * one error mapping.
 */
import http from 'node:http';
import express from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { accountHandlers } from '../controllers/accounts.controller';
import { flowRequestHandlers } from '../controllers/flow-requests.controller';
import { connectionHandlers } from '../controllers/connections.controller';
import { organizationHandlers } from '../controllers/organizations.controller';
import { inboundEventHandlers } from '../controllers/events.controller';
import { authHandlers } from '../controllers/auth.controller';
import { collaborationHandlers } from '../controllers/collaboration.controller';
import { executionHandlers } from '../controllers/executions.controller';
import { fileHandlers } from '../controllers/files.controller';
import { flowHandlers } from '../controllers/flows.controller';
import { listenerHandlers } from '../controllers/listeners.controller';
import { recoveryHandlers } from '../controllers/recovery.controller';
import { runHandlers } from '../controllers/runs.controller';
import { scheduleHandlers } from '../controllers/schedules.controller';
import { signInHandlers } from '../controllers/sign-in.controller';
import { webhookHandlers } from '../controllers/webhooks.controller';
import type { Services } from '../services';
import { authMiddleware } from './auth';
import { errorHandler, notFoundHandler } from './error-handler';
import { integerParamsGuard, isStorableDateTime, jsonBody, urlTextGuard } from './input-guard';
import { answerMalformedRequests } from './malformed-requests';
import { browserHome } from './console';
import { docsAccess } from './docs-access';
import { EXTRA_ROUTES, metaRouter } from './meta';
import { requestObserver } from './metrics';
import type { Handlers } from './operations';
import { routeGuard } from './route-guard';
import { fastLane, STREAMED_BODY_OPERATIONS } from './fast-lane';
import { hooksRouter } from './hooks';
import { operationRoutes, operationsRouter } from './router';
import { countScheduleTimesOf } from './trigger-metrics';
import './route-cache';
import { SPEC_JSON_PATH } from './spec';

export function allHandlers(s: Services): Handlers {
  return {
    ...authHandlers(s),
    ...accountHandlers(s),
    ...flowRequestHandlers(s),
    ...connectionHandlers(s),
    ...organizationHandlers(s),
    ...inboundEventHandlers(s),
    ...flowHandlers(s),
    ...executionHandlers(s),
    ...runHandlers(s),
    ...listenerHandlers(s),
    ...collaborationHandlers(s),
    ...scheduleHandlers(s),
    ...webhookHandlers(s),
    ...recoveryHandlers(s),
    ...signInHandlers(s),
    ...fileHandlers(s),
  };
}

export function createApp(s: Services): express.Express {
  countScheduleTimesOf(s);
  const app = express();
  app.disable('x-powered-by');
  // No automatic ETag (a hash of every JSON body) nor the 304s it would answer: the spec declares
  // an ETag only where a controller sets one (the pinned definition).
  app.set('etag', false);
  // Off by default: `X-Forwarded-For` is believed only from the proxies configured (req.ip feeds
  // the login throttle, so believing anyone would let a client pick its own address).
  app.set('trust proxy', s.config.trustProxy);
  app.use(requestObserver(s.log));
  app.use(urlTextGuard);
  app.use(browserHome);
  app.use(routeGuard(EXTRA_ROUTES));
  app.use(metaRouter(() => s.health.databaseAnswers(), docsAccess(s)));
  app.use(hooksRouter(s));
  app.use(authMiddleware(s.auth));
  app.use(integerParamsGuard);
  const routes = operationRoutes(allHandlers(s));
  // Uploads stream their bodies to their handler: checked like the fast lane, before the JSON body.
  app.use(fastLane(routes, { validateResponses: s.config.validateResponses, operations: STREAMED_BODY_OPERATIONS }));
  app.use(jsonBody());
  if (s.config.fastLane) app.use(fastLane(routes, { validateResponses: s.config.validateResponses }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: SPEC_JSON_PATH,
      validateRequests: { allowUnknownQueryParameters: false },
      validateResponses: s.config.validateResponses,
      validateSecurity: false,
      formats: { 'date-time': { type: 'string', validate: isStorableDateTime } },
      ignoreUndocumented: false,
    }),
  );
  app.use(operationsRouter(routes));
  app.use(notFoundHandler);
  app.use(errorHandler(s.log));
  return app;
}

/** The HTTP server for the app, answering requests Node's parser refuses in the error format too. */
export function createHttpServer(s: Services): http.Server {
  const server = http.createServer(createApp(s));
  answerMalformedRequests(server);
  return server;
}
