/**
 * Requests that are not well-formed HTTP/1.1 never reach Express: Node's parser refuses them (a
 * chunked body whose framing is broken, both Content-Length and Transfer-Encoding, a transfer coding
 * other than chunked, a method it does not know, headers beyond its limit) and, left alone, writes a
 * bare `400 Bad Request` with no body. They are answered here in the error format instead, and the
 * connection is closed, because after a framing error there is no telling where a next request would
 * begin.
 *
 * A well-formed body sent to an operation that takes none (a GET with a chunked or Content-Length
 * body) is not one of these: RFC 9110 gives such content no meaning, so it is ignored, and Node
 * drains it so that the connection stays usable.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { specMethodsAt } from './spec';

interface ParserError extends Error {
  code?: string;
  /** The parser's own words for what was wrong (llhttp sets it). */
  reason?: string;
  /** The bytes the parser was looking at: where a request line it refused can be read from. */
  rawPacket?: Buffer;
}

interface Answer {
  status: number;
  code: string;
  message: string;
  details: Record<string, unknown> | null;
  headers?: Record<string, string>;
}

const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ (\/[^ ?\r\n]*)(?:\?[^ \r\n]*)? HTTP\/1\.[01]\r?\n/;

function answerFor(err: ParserError): Answer {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, code: 'request_timeout', message: 'The request was not received in time', details: null };
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      code: 'headers_too_large',
      message: 'The request headers are larger than the server accepts',
      details: null,
    };
  }
  // A method Node does not know is still a method the spec does not define: the same 404 or 405
  // as the route guard gives any other, when the request line can be read.
  const path =
    err.code === 'HPE_INVALID_METHOD' ? REQUEST_LINE.exec(err.rawPacket?.toString('latin1') ?? '')?.[1] : undefined;
  if (path !== undefined) {
    const methods = specMethodsAt(path);
    if (!methods) return { status: 404, code: 'not_found', message: 'Resource not found', details: null };
    return {
      status: 405,
      code: 'method_not_allowed',
      message: `This method is not allowed here; allowed: ${methods.join(', ')}`,
      details: { allow: methods },
      headers: { Allow: methods.join(', ') },
    };
  }
  const reason = err.reason ?? err.code ?? 'malformed request';
  return {
    status: 400,
    code: 'invalid_request',
    message: `The request is not well-formed HTTP/1.1: ${reason}`,
    details: { reason },
  };
}

function responseText(a: Answer): string {
  const body = JSON.stringify({ error: { code: a.code, message: a.message, details: a.details } });
  const headers = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...a.headers,
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  return `HTTP/1.1 ${a.status} ${http.STATUS_CODES[a.status]}\r\n${lines.join('')}\r\n${body}`;
}

/** Makes `server` answer what its parser refuses in the error format. */
export function answerMalformedRequests(server: http.Server): void {
  // The response under way on each connection: a framing error in a body can come after its
  // request reached Express, and once that response has started, nothing else can be written.
  const underWay = new WeakMap<Duplex, http.ServerResponse>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    underWay.set(req.socket, res);
    res.on('finish', () => {
      if (underWay.get(req.socket) === res) underWay.delete(req.socket);
    });
  });
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable || underWay.get(socket)?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(responseText(answerFor(err)), () => socket.destroy());
  });
}
