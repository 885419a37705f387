// The members a lightweight Request or Response does not answer itself (issue 13): each is the platform's own
// getter or method, called on the platform object behind the lightweight one, so none of them meets undici's
// missing brand (its private state) and members a later Node adds are covered without a change here.

/**
 * Defines on `target` every getter and method of `platform` except `own` (and `Symbol.toStringTag`), each
 * calling the platform's member on `native(this)`.
 */
export function delegateMembers<Self extends object>(
  target: Self,
  platform: object,
  own: ReadonlySet<string>,
  native: (self: Self) => object,
): void {
  for (const key of Reflect.ownKeys(platform)) {
    if ((typeof key === 'string' && own.has(key)) || key === Symbol.toStringTag) continue;
    const descriptor = Object.getOwnPropertyDescriptor(platform, key)!;
    if (descriptor.get !== undefined) {
      const getter = descriptor.get;
      Object.defineProperty(target, key, {
        configurable: true,
        enumerable: descriptor.enumerable ?? false,
        get(this: Self) {
          return getter.call(native(this));
        },
      });
    } else if (typeof descriptor.value === 'function') {
      const method = descriptor.value as (...args: unknown[]) => unknown;
      Object.defineProperty(target, key, {
        configurable: true,
        enumerable: descriptor.enumerable ?? false,
        writable: true,
        value: function (this: Self, ...args: unknown[]) {
          return method.apply(native(this), args);
        },
      });
    }
  }
}
