// The one place that touches the wasm package: loads it, and wraps a `Commons` so every screen
// calls it the same way. Values coming out are normalised (Map -> object, snake_case ->
// camelCase, BigInt -> Number) so screens read plain objects whatever serde produced.
import init, * as pkg from '../pkg/peer_commons.js';

let loaded;
/** Loads and instantiates the wasm module once. */
export function loadPkg() {
  loaded ??= init().then(() => pkg);
  return loaded;
}

const camel = (key) => key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/** Plain-object form of whatever crossed the wasm boundary. */
export function norm(value) {
  if (typeof value === 'bigint') return Number(value);
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (Array.isArray(value)) return value.map(norm);
  if (value instanceof Map) {
    const out = {};
    for (const [k, v] of value) out[typeof k === 'string' ? camel(k) : String(k)] = norm(v);
    return out;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[camel(k)] = norm(v);
  return out;
}

/** Whether `obj` offers `name` (method or getter). */
export const offers = (obj, name) => obj != null && name in obj;

/**
 * Wraps a wasm `Commons`. `call(name, ...args)` calls a method (or reads a getter), awaiting and
 * normalising the result; a missing API throws an Error that names it.
 */
export function wrap(raw) {
  const call = (name, ...args) => {
    if (!offers(raw, name)) throw new Error(`this build of peer-commons has no ${name}()`);
    const member = raw[name];
    const result = typeof member === 'function' ? member.apply(raw, args) : member;
    return result instanceof Promise ? result.then(norm) : norm(result);
  };
  return {
    raw,
    call,
    has: (name) => offers(raw, name),
    /** Like call, but returns `fallback` when the API is missing or throws. */
    read(name, fallback, ...args) {
      if (!offers(raw, name)) return fallback;
      try {
        return call(name, ...args);
      } catch (error) {
        console.warn(`${name}() failed`, error);
        return fallback;
      }
    },
    get id() {
      return call('id');
    },
  };
}
