// JSON Merge Patch (RFC 7396): the body of PATCH /config. An object in the patch merges into the
// object it names, null removes a key, and anything else (arrays included) replaces the value whole.
// So a field tech edits one Modbus bus by sending the whole `buses` list back, never a partial list.

export type Tree = Record<string, unknown>;

export function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7396 section 2, MergePatch(Target, Patch); neither argument is changed. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isTree(patch)) return structuredClone(patch);
  const out: Tree = isTree(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
