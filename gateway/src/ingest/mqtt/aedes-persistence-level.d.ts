// aedes-persistence-level ships no types; aedes 1.x wants its async class, not the callback wrapper.
declare module 'aedes-persistence-level/asyncPersistence.js' {
  import type { Level } from 'level';
  export default class AsyncLevelPersistence {
    constructor(db: Level<string, string>);
    setup(broker: unknown): Promise<void>;
    destroy(): Promise<void>;
  }
}
