/**
 * Loads a compiled N-API addon from `build/Release` (built by `npm install` through node-gyp).
 * Returns `null` with the reason when it is missing or fails to load, so callers fall back to the
 * TypeScript reference and can say which kernel is active.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface NativeLoad<T> {
  addon: T | null;
  /** Why the addon is not available (null when it loaded). */
  reason: string | null;
}

const cache = new Map<string, NativeLoad<unknown>>();

export function loadNative<T>(name: string): NativeLoad<T> {
  const hit = cache.get(name);
  if (hit) return hit as NativeLoad<T>;
  let result: NativeLoad<T>;
  if (process.env.EGRU_NO_NATIVE === '1') {
    result = { addon: null, reason: 'disabled by EGRU_NO_NATIVE=1' };
  } else {
    const file = path.join(root, 'build', 'Release', `${name}.node`);
    try {
      result = { addon: require(file) as T, reason: null };
    } catch (e) {
      result = { addon: null, reason: `${file}: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  cache.set(name, result);
  return result;
}
