// Plain aedes for the MQTT comparison: the broker library the gateway is built on, with its default
// in-memory persistence and nothing else (no validation, no outbox, no hooks), in its own process.
// `node dist/bench/aedes-plain.js <port>` listens on 127.0.0.1:<port> until SIGTERM.
import { Aedes } from 'aedes';
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: aedes-plain.js <port>');
  process.exit(2);
}
const broker = await Aedes.createBroker();
const server = createServer((socket) => broker.handle(socket));
server.listen(port, '127.0.0.1', () => console.log(`aedes listening on 127.0.0.1:${port}`));
process.once('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
