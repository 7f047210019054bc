/** How listener deliveries are signed: the deliverer signs, receivers verify the same recipe. */
import crypto from 'node:crypto';

export const SIGNATURE_HEADER = 'X-FlowRunner-Signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the recipe receivers verify. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
