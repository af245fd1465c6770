// Lets a bench module run by itself (`node dist/bench/<name>.js`) as well as from bench/run.ts.
import { pathToFileURL } from 'node:url';

/** Runs `bench` and prints its result as JSON when `moduleUrl` is the script node was started with. */
export function runIfMain(moduleUrl: string, bench: () => Promise<unknown>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  bench().then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
