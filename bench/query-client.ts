// The query bench's HTTP side: `clients` concurrent callers over keep-alive connections (one
// socket each at most, as 20 dashboards or scripts would hold), each taking the next request of a
// list as soon as its previous answer is read to the end. A request's latency runs from the call to
// the last byte of the answer; parsing the JSON is left out, since that is the client's work.
import { Agent, request } from 'node:http';

export interface Answer {
  status: number;
  body: string;
  ms: number;
}

export class ApiClient {
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    sockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  get(path: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(
        new URL(path, this.baseUrl),
        { agent: this.agent, headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
          res.on('error', reject);
        },
      );
      // Long: a year from the lake queues behind the other clients' (one DuckDB query at a time).
      req.setTimeout(1_800_000, () => req.destroy(new Error(`GET ${path}: no answer in 30 minutes`)));
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Runs `paths` through `clients` concurrent callers and returns each answer in the order of
 * `paths`. An answer other than 200 fails the run: a figure made of refusals would be no figure.
 */
export async function runAll(client: ApiClient, paths: readonly string[], clients: number): Promise<Answer[]> {
  const answers = new Array<Answer>(paths.length);
  let next = 0;
  const caller = async (): Promise<void> => {
    for (let i = next++; i < paths.length; i = next++) {
      const a = await client.get(paths[i]!);
      if (a.status !== 200) throw new Error(`GET ${paths[i]} answered ${a.status}: ${a.body.slice(0, 500)}`);
      answers[i] = a;
    }
  };
  await Promise.all(Array.from({ length: Math.min(clients, paths.length) }, caller));
  return answers;
}
