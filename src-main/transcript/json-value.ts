// The JSON values an entry's `data` may hold. Numbers are restricted to safe integers so that every
// independent canonicalizer (RFC 8785, but also Python's json.dumps with sorted keys) produces the same bytes.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

const MAX_DEPTH = 32;

/** String.prototype.isWellFormed (ES2024; in Node 20) without raising the TypeScript lib. */
export function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** Whether a value is acceptable entry data: the fast path of jsonProblem, building no strings. */
function isJsonValue(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'boolean':
      return true;
    case 'number':
      return Number.isSafeInteger(value);
    case 'string':
      return isWellFormed(value);
    case 'object': {
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(value)) {
        for (const item of value) if (!isJsonValue(item, depth + 1)) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        if (!isWellFormed(key) || !isJsonValue((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** The first problem with a value as entry data, as `path: problem`, or undefined when it is acceptable. */
export function jsonProblem(value: unknown, path: string, depth = 0): string | undefined {
  if (isJsonValue(value, depth)) return undefined;
  return describeProblem(value, path, depth);
}

function describeProblem(value: unknown, path: string, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return `${path} is nested deeper than ${MAX_DEPTH} levels`;
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? undefined : `${path} must be an integer between -(2^53-1) and 2^53-1 (got ${value}); put other numbers in a string`;
  }
  if (typeof value === 'string') {
    return isWellFormed(value) ? undefined : `${path} contains a lone UTF-16 surrogate`;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const problem = describeProblem(value[i], `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, child] of Object.entries(value)) {
      if (!isWellFormed(key)) return `${path} has a key with a lone UTF-16 surrogate`;
      const problem = describeProblem(child, `${path}.${key}`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  return `${path} must be JSON (null, boolean, integer, string, array or object), not ${typeof value}`;
}
