// JavaScript helpers of the bindings (bindings/src/convert.rs).

/**
 * A page object in one call (and one shape for every page), where
 * `Reflect.set` would take a trip per member and a string per key.
 */
export function pagewisePage(index, url, total, records) {
  return { index, url, total, records };
}
