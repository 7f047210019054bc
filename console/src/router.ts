/** Routes live in the URL's hash (#/flows/flow-1), so the server serves one page and no token is ever in a URL. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'flows' }
  | { page: 'flow-new' }
  | { page: 'flow'; id: string }
  | { page: 'run'; id: string }
  | { page: 'executions'; flowId?: string }
  | { page: 'execution'; id: string }
  | { page: 'account' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [head, id, tail] = parts;
  if (head === 'flows' && id === 'new') return { page: 'flow-new' };
  if (head === 'flows' && id && tail === 'run') return { page: 'run', id };
  if (head === 'flows' && id && tail === 'executions') return { page: 'executions', flowId: id };
  if (head === 'flows' && id) return { page: 'flow', id };
  if (head === 'executions' && id) return { page: 'execution', id };
  if (head === 'executions') return { page: 'executions' };
  if (head === 'account') return { page: 'account' };
  return { page: 'flows' };
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function navigate(...parts: string[]): void {
  window.location.hash = href(...parts);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
