// A stand-in for systemd's end of the notify protocol: a real AF_UNIX datagram socket (Python's
// socket module, since Node has none) that records every datagram it receives, one JSON line each.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    # Any fds sent along (systemd-notify's BARRIER=1) are closed unread, which releases the barrier,
    # as the manager does once it has processed the messages before it.
    data = s.recv(65536)
    print(json.dumps(data.decode()), flush=True)
`;

export interface NotifySocket {
  path: string;
  /** Datagrams received so far, in order; each holds newline-separated KEY=VALUE lines. */
  messages: string[];
  /** Every KEY=VALUE line received so far, in order. */
  lines(): string[];
  close(): Promise<void>;
}

export async function listenNotifySocket(dir: string): Promise<NotifySocket> {
  const path = join(dir, 'notify.sock');
  const proc: ChildProcess = spawn(process.env.FIELDLINE_PYTHON ?? 'python3', ['-u', '-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  await new Promise<void>((ready, fail) => {
    proc.once('error', fail);
    proc.once('exit', (code) => fail(new Error(`notify receiver exited with ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === 'listening') ready();
      else messages.push(JSON.parse(line) as string);
    });
  });
  proc.removeAllListeners('exit');
  return {
    path,
    messages,
    lines: () => messages.flatMap((m) => m.split('\n')),
    close: () =>
      new Promise<void>((done) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        proc.once('exit', () => done());
        proc.kill('SIGKILL');
      }).then(() => {
        if (existsSync(path)) return import('node:fs').then((fs) => fs.rmSync(path, { force: true }));
      }),
  };
}
