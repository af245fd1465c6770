// The part of the Reflect metadata API that tsyringe (used inside @peculiar/x509) checks for and
// calls: its @injectable classes read constructor parameter types through Reflect.getMetadata. The
// library's own classes take no constructor parameters, so a small map-backed store is enough and
// spares a polyfill dependency. Installed only when nothing else provided the API.
type Target = object;
type MetaMap = Map<unknown, unknown>;

const store = new WeakMap<Target, Map<string | symbol | undefined, MetaMap>>();

function own(target: Target, prop: string | symbol | undefined, create: boolean): MetaMap | undefined {
  let byProp = store.get(target);
  if (!byProp) {
    if (!create) return undefined;
    store.set(target, (byProp = new Map()));
  }
  let meta = byProp.get(prop);
  if (!meta && create) byProp.set(prop, (meta = new Map()));
  return meta;
}

const api = {
  defineMetadata(key: unknown, value: unknown, target: Target, prop?: string | symbol): void {
    own(target, prop, true)!.set(key, value);
  },
  getOwnMetadata(key: unknown, target: Target, prop?: string | symbol): unknown {
    return own(target, prop, false)?.get(key);
  },
  hasOwnMetadata(key: unknown, target: Target, prop?: string | symbol): boolean {
    return own(target, prop, false)?.has(key) ?? false;
  },
  getMetadata(key: unknown, target: Target, prop?: string | symbol): unknown {
    // Metadata is inherited along the prototype chain, as in the proposal the TypeScript emitter follows.
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      const meta = own(t, prop, false);
      if (meta?.has(key)) return meta.get(key);
    }
    return undefined;
  },
  hasMetadata(key: unknown, target: Target, prop?: string | symbol): boolean {
    return api.getMetadata(key, target, prop) !== undefined;
  },
  metadata(key: unknown, value: unknown) {
    return (target: Target, prop?: string | symbol): void => api.defineMetadata(key, value, target, prop);
  },
};

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== 'function') {
  for (const [name, fn] of Object.entries(api)) reflect[name] = fn;
}
