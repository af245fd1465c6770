import { ConfigError } from './config.js';

/** Runs a CLI's main and exits with its code; a bad config exits 78 (EX_CONFIG), which systemd does not restart. */
export function runCli(main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof ConfigError) {
        console.error(err.message);
        process.exit(78);
      }
      console.error(err);
      process.exit(1);
    },
  );
}
