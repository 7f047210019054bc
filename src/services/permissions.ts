/** What a role permits, as `GET /users/me` lists it; the services' checks are the rules, this names them. */
import type { components } from '../../generated/types/api';
import type { Actor } from './actor';

type Permission = components['schemas']['Permission'];

const USER: Permission[] = [
  'flows:read',
  'flows:write',
  'executions:read',
  'executions:run',
  'secrets:write',
  'api_keys:manage',
];
const ADMIN: Permission[] = [...USER, 'accounts:manage', 'all:read'];

export function permissionsOf(role: Actor['role']): Permission[] {
  return role === 'admin' ? [...ADMIN] : [...USER];
}
