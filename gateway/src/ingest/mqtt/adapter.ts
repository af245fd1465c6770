// MQTT ingest on an aedes broker. The PUBACK for a QoS 1 PUBLISH is written by aedes only after
// authorizePublish calls back (aedes lib/handlers/publish.js: authorizePublish → enqueuePublish),
// so calling back after the outbox commit is what makes [MQTT-4.3.2-2]'s acknowledgement mean
// "on disk" here.
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { createServer, type Server } from 'node:net';
import type { Logger } from 'pino';
import { SourceProtocol } from '../../../../proto/src/wire.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { Metrics } from '../../metrics.js';
import type { Adapter, AdapterStatus, Ingest } from '../adapter.js';
import { parseTopic } from './topic.js';

export class MqttAdapter implements Adapter {
  readonly name = 'mqtt';
  private broker?: Aedes;
  private server?: Server;
  private clients = 0;
  private ingest?: Ingest;
  boundPort = 0;

  constructor(
    private readonly cfg: GatewayConfig['mqtt'],
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async start(ingest: Ingest): Promise<void> {
    this.ingest = ingest;
    this.broker = await Aedes.createBroker({
      authorizePublish: (client, packet, callback) => this.authorizePublish(client, packet, callback),
    });
    this.broker.on('client', () => this.clients++);
    this.broker.on('clientDisconnect', () => this.clients--);
    this.broker.on('clientError', (client, err) => {
      this.metrics.count('mqtt', 'errors');
      this.log.debug({ client: client?.id, err: err.message }, 'mqtt client error');
    });
    this.broker.on('connectionError', (_client, err) => {
      this.metrics.count('mqtt', 'errors');
      this.log.debug({ err: err.message }, 'mqtt connection error');
    });
    const server = createServer(this.broker.handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.port, this.cfg.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.cfg.port;
    this.log.info({ port: this.boundPort }, 'mqtt listening');
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    // [MQTT-4.7.2-1]: topics starting with $ are the server's.
    if (packet.topic.startsWith('$')) return callback(new Error('$ topics are reserved'));
    const topic = parseTopic(packet.topic);
    if (topic.kind === 'other') return callback(null);
    const ingest = this.ingest;
    if (!ingest) return callback(new Error('not started'));
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const deviceId = topic.kind === 'telemetry' ? topic.deviceId : topic.deviceId.slice(0, 128) || '(empty)';
    this.metrics.count('mqtt', 'received');
    ingest({
      deviceId,
      source: SourceProtocol.SOURCE_PROTOCOL_MQTT,
      format: topic.kind === 'telemetry' ? topic.format : 'json',
      raw: payload.length > this.cfg.maxPayloadBytes ? payload.subarray(0, this.cfg.maxPayloadBytes) : payload,
      receivedMs: Date.now(),
      topic: packet.topic.slice(0, 512),
      ...(topic.kind === 'bad-device-id'
        ? { preRejection: { code: 'FL_ERR_INGEST_DEVICE_ID' as const, detail: JSON.stringify(topic.deviceId.slice(0, 80)) } }
        : payload.length > this.cfg.maxPayloadBytes
          ? { preRejection: { code: 'FL_ERR_INGEST_TOO_LARGE' as const, detail: `${payload.length} > ${this.cfg.maxPayloadBytes} bytes` } }
          : {}),
    }).then(
      // Refused input is acknowledged once quarantined: MQTT 3.1.1 has no negative PUBACK, and a
      // device that never gets one would resend the same bad message forever.
      () => callback(null),
      (err: Error) => {
        // Nothing was committed: no PUBACK. Closing the connection makes a QoS 1 sender resend
        // after it reconnects [MQTT-4.4.0-1].
        this.metrics.count('mqtt', 'errors');
        this.log.warn({ client: client?.id, err: err.message }, 'outbox refused a reading; disconnecting the client');
        callback(err);
      },
    );
  }

  status(): AdapterStatus {
    if (!this.server?.listening) return { name: this.name, state: 'down', detail: 'not listening' };
    return { name: this.name, state: 'up', detail: `${this.clients} clients on port ${this.boundPort}` };
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    const server = this.server;
    // The broker first: it disconnects the clients, which server.close() would otherwise wait for.
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
