/** The node-type registry: the catalog endpoint, save-time validation and the engine read only this. */
import { approval } from './approval';
import { callback } from './callback';
import { condition } from './condition';
import { delay } from './delay';
import { event } from './event';
import { fail } from './fail';
import { foreach } from './foreach';
import { httpRequest } from './http-request';
import { input } from './input';
import { join } from './join';
import { log } from './log';
import { parallel } from './parallel';
import { set } from './set';
import { subflow } from './subflow';
import { switchNode } from './switch';
import { transform } from './transform';
import type { NodeTypeModule } from './types';
import { webhook } from './webhook';

export type { NodeTypeModule } from './types';

export const NODE_TYPES: readonly NodeTypeModule[] = [
  httpRequest,
  webhook,
  transform,
  condition,
  switchNode,
  delay,
  log,
  fail,
  set,
  approval,
  input,
  event,
  callback,
  subflow,
  parallel,
  join,
  foreach,
];

const byType = new Map(NODE_TYPES.map((m) => [m.type, m]));

export function nodeType(type: string): NodeTypeModule | undefined {
  return byType.get(type);
}
