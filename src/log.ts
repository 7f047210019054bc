import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs; secrets and passwords never reach them. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'flowrunner' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'password', '*.password', 'value', '*.value'],
      censor: '***',
    },
  });
}
