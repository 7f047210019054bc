/** A WebSocket client that records what it receives, for tests. */
import WebSocket from 'ws';

export interface Recorded {
  ws: WebSocket;
  messages: { type: string; seq: number; execution_id: string; [k: string]: unknown }[];
  /** Resolves with the close code, or the HTTP status of a refused upgrade. */
  done: Promise<{ code?: number; status?: number }>;
  opened: Promise<boolean>;
}

export function record(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Recorded {
  const { protocols, ...rest } = options;
  const ws = new WebSocket(url, protocols, rest);
  const messages: Recorded['messages'] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  const opened = new Promise<boolean>((resolve) => {
    ws.on('open', () => resolve(true));
    ws.on('unexpected-response', () => resolve(false));
    ws.on('error', () => resolve(false));
  });
  const done = new Promise<{ code?: number; status?: number }>((resolve) => {
    ws.on('close', (code) => resolve({ code }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
    });
    ws.on('error', () => resolve({}));
  });
  return { ws, messages, done, opened };
}

export const wsUrl = (httpUrl: string, path: string) => httpUrl.replace(/^http/, 'ws') + path;
