// MQTT ingest on an aedes broker: plain TCP, TLS with client certificates, and WebSocket.
// The PUBACK for a QoS 1 PUBLISH is written by aedes only after authorizePublish calls back
// (aedes lib/handlers/publish.js: authorizePublish → enqueuePublish), so calling back after the
// outbox commit is what makes the acknowledgement [MQTT-4.3.2-2] mean "on disk" here.
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import AsyncLevelPersistence from 'aedes-persistence-level/asyncPersistence.js';
import { Level } from 'level';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { SourceProtocol } from '../../../../proto/src/wire.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { ErrorCode } from '../../errors.js';
import { failpoint } from '../../failpoints.js';
import type { Metrics } from '../../metrics.js';
import { normalizeSerial, pkiDir } from '../../pki/names.js';
import { RevocationIndex } from '../../pki/revocation.js';
import type { Adapter, AdapterStatus, Ingest } from '../adapter.js';
import { isDeviceId } from '../device-id.js';
import { isPrototypeName, mayPublish, maySubscribe } from './acl.js';
import type { MqttConfig } from './config.js';
import { CredentialStore } from './credentials.js';
import { guardedConnection } from './frame-guard.js';
import { redeliveryOf, type MqttResendScreen } from './redelivery.js';
import { parseTopic } from './topic.js';
import { commandAckTopic, commandsTopic, filterMatches, isCommandsTopic, type MqttCommandEvents } from './commands.js';

// mqtt-packet fills a cache of 65,536 two-byte Buffers (one per packet id) at the first packet it
// writes: 7 MB of heap held for good, to spare one 2-byte allocation per PUBACK. Off in the copy
// aedes writes with (resolved from aedes, as it is aedes' dependency, not ours).
const aedesPacketWriter = createRequire(import.meta.resolve('aedes'))('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } };
aedesPacketWriter.writeToStream.cacheNumbers = false;

type Listener = Server | TlsServer | HttpServer;
type ListenerKind = 'tcp' | 'tls' | 'ws';

/** One connected client, as GET /mqtt/clients shows it. */
export interface MqttClientInfo {
  clientId: string;
  deviceId: string;
  listener: ListenerKind;
  remoteAddress: string;
  /** RFC 3339. */
  connectedAt: string;
  /** The client certificate's serial (upper-case hex), on the TLS listener. */
  certificateSerial?: string;
}

export class MqttAdapter implements Adapter {
  readonly name = 'mqtt';
  private broker?: Aedes;
  private level?: Level<string, string>;
  private readonly listeners: { kind: ListenerKind; server: Listener; port: number }[] = [];
  private wss?: WebSocketServer;
  private clients = 0;
  private readonly counts = { refusedConnections: 0, refusedSubscriptions: 0, abuseDisconnects: 0, revokedRefusals: 0, revokedDisconnects: 0 };
  private ingest?: Ingest;
  /** The device each connected client speaks for. */
  private readonly identity = new WeakMap<Client, string>();
  private readonly throttled = new WeakMap<Client, number>();
  private readonly creds: CredentialStore;
  /** Where each connection came in; keyed by the stream aedes keeps as client.conn. */
  private readonly origin = new WeakMap<Duplex, { kind: ListenerKind; remoteAddress: string }>();
  private readonly serials = new WeakMap<Client, string>();
  private readonly connected = new Map<Client, MqttClientInfo>();
  private revocation?: RevocationIndex;
  /** Set by the gateway when commands are on: where device acks and new subscriptions go. */
  commandEvents?: MqttCommandEvents;
  /** Command publishes on their way to one client, by their payload (aedes passes the Buffer along as is). */
  private readonly commandSends = new WeakMap<Buffer, { client: Client; onPuback: () => void }>();
  /** The PUBACK each client owes for a command, by packet id. */
  private readonly awaitingPuback = new WeakMap<Client, Map<number, () => void>>();
  boundPort = 0;
  tlsPort = 0;
  wsPort = 0;

  constructor(
    private readonly cfg: MqttConfig,
    private readonly limits: GatewayConfig['rateLimit'],
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly dataDir?: string,
    /** Names the server certificate when the gateway's own CA is used (mqtt.tls without files). */
    private readonly gatewayId = 'fieldline-gateway',
    /** The outbox's resend screen, told of committed messages whose PUBACK found the connection gone. */
    private readonly resends?: Pick<MqttResendScreen, 'unacknowledged'>,
  ) {
    this.creds = new CredentialStore(cfg.credentials);
  }

  async start(ingest: Ingest): Promise<void> {
    this.ingest = ingest;
    let persistence: AsyncLevelPersistence | undefined;
    if (this.cfg.persistSessions && this.dataDir) {
      this.level = new Level<string, string>(join(this.dataDir, 'mqtt'));
      persistence = new AsyncLevelPersistence(this.level);
    }
    this.broker = await Aedes.createBroker({
      ...(persistence ? { persistence } : {}),
      maxClientsIdLength: 128,
      preConnect: (client, packet, cb) => this.preConnect(client, packet.clientId, cb),
      authenticate: (client, username, password, cb) => this.authenticate(client, username, password, cb),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => this.authorizeSubscribe(client, sub, cb),
      authorizeForward: (client, packet) => this.forwardCommand(client, packet),
    });
    this.watchPubacks();
    this.broker.on('client', (client) => {
      this.clients++;
      this.track(client);
      // aedes registers a client after its session steps, which are asynchronous with LevelDB
      // persistence. A connection closed in that window was not unregistered (it was not registered
      // yet) and would stay in the client table for good: let it go now.
      // clients and unregisterClient are aedes internals its typings leave out.
      const broker = this.broker as unknown as { clients: Record<string, Client>; unregisterClient(c: Client): void };
      if (client.closed && broker.clients[client.id] === client) broker.unregisterClient(client);
    });
    this.broker.on('subscribe', (_subs, client) => this.notifySubscribed(client));
    // A persistent session's subscriptions are restored before the client is ready, without a 'subscribe'.
    this.broker.on('clientReady', (client) => this.notifySubscribed(client));
    this.broker.on('clientDisconnect', (client) => {
      this.clients--;
      this.connected.delete(client);
    });
    this.broker.on('clientError', (client, err) => this.countError(client?.id, err));
    this.broker.on('connectionError', (_client, err) => this.countError(undefined, err));

    const accept = (kind: ListenerKind, socket: Duplex, remoteAddress: string | undefined) => {
      const conn = guardedConnection(socket, this.cfg.maxPacketBytes);
      this.origin.set(conn, { kind, remoteAddress: remoteAddress ?? '' });
      return conn;
    };
    const handle = (kind: ListenerKind) => (socket: Duplex & { remoteAddress?: string }) => this.broker!.handle(accept(kind, socket, socket.remoteAddress));
    if (this.cfg.plainEnabled) this.boundPort = await this.listen('tcp', createServer(handle('tcp')), this.cfg.port);
    if (this.cfg.tls.enabled) {
      const files = await this.tlsFiles();
      const server = createTlsServer(
        {
          cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(files.ca),
          requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
        },
        handle('tls'),
      );
      // A handshake without a certificate, or with one from another CA, never reaches the broker.
      server.on('tlsClientError', (err) => this.countError(undefined, err));
      this.tlsPort = await this.listen('tls', server, this.cfg.tls.port);
    }
    if (this.cfg.websocket.enabled) {
      const http = createHttpServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n'));
      this.wss = new WebSocketServer({ server: http, maxPayload: this.cfg.maxPacketBytes });
      // maxPayload bounds one WebSocket frame; an MQTT packet may span many, so the guard applies too.
      this.wss.on('connection', (ws, req) => this.broker!.handle(accept('ws', createWebSocketStream(ws), req.socket.remoteAddress), req));
      this.wsPort = await this.listen('ws', http, this.cfg.websocket.port);
    }
  }

  /**
   * The TLS listener's PEM files: the configured ones, or else the gateway's own CA under
   * <dataDir>/pki (made on first use). Either way, revocations recorded there are honoured.
   */
  private async tlsFiles(): Promise<{ cert: string; key: string; ca: string }> {
    const t = this.cfg.tls;
    let files: { cert: string; key: string; ca: string };
    if (t.certFile && t.keyFile && t.caFile) {
      files = { cert: t.certFile, key: t.keyFile, ca: t.caFile };
    } else {
      // config.ts allows all three files or none; the gateway always passes its data dir.
      if (!this.dataDir) throw new Error('mqtt.tls without certFile/keyFile/caFile needs the gateway data dir for its own CA');
      // Loaded here: the X.509 library is needed only by a TLS listener on the gateway's own CA.
      const { ensureGatewayPki } = await import('../../pki/ca.js');
      const pki = await ensureGatewayPki(this.dataDir, this.gatewayId);
      if (pki.created) this.log.warn({ ca: pki.caCertFile }, 'created the gateway device CA; back up its pki/ directory (docs/OPERATIONS.md)');
      if (pki.serverReissued) this.log.info({ cert: pki.serverCertFile }, 'issued the MQTT TLS server certificate');
      files = { cert: pki.serverCertFile, key: pki.serverKeyFile, ca: pki.caCertFile };
    }
    if (this.dataDir && existsSync(pkiDir(this.dataDir))) {
      this.revocation = new RevocationIndex(
        pkiDir(this.dataDir),
        (serials) => this.dropRevoked(serials),
        (err) => this.log.error({ err: err.message }, 'cannot read the certificate index; revocations from the last good copy apply'),
      );
      this.revocation.watch();
    }
    return files;
  }

  /** Closes the connections of certificates revoked while they were connected. */
  private dropRevoked(serials: Set<string>): void {
    for (const [client, info] of this.connected) {
      if (info.certificateSerial === undefined || !serials.has(info.certificateSerial)) continue;
      this.counts.revokedDisconnects++;
      this.metrics.refuse(info.deviceId, 'FL_ERR_MQTT_CERT_REVOKED');
      this.log.warn({ client: info.clientId, device: info.deviceId, serial: info.certificateSerial }, 'mqtt: certificate revoked; closing the connection');
      client.close();
    }
  }

  private track(client: Client): void {
    const origin = this.origin.get(client.conn as unknown as Duplex);
    const serial = this.serials.get(client);
    this.connected.set(client, {
      clientId: client.id,
      deviceId: this.identity.get(client) ?? client.id,
      listener: origin?.kind ?? 'tcp',
      remoteAddress: origin?.remoteAddress ?? '',
      connectedAt: new Date().toISOString(),
      ...(serial === undefined ? {} : { certificateSerial: serial }),
    });
  }

  /** The clients connected now, oldest connection first. */
  connectedClients(): MqttClientInfo[] {
    return [...this.connected].filter(([c]) => !c.closed).map(([, info]) => info);
  }

  private async listen(kind: ListenerKind, server: Listener, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.cfg.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    this.listeners.push({ kind, server, port: bound });
    this.log.info({ kind, port: bound }, 'mqtt listening');
    return bound;
  }

  private countError(clientId: string | undefined, err: Error): void {
    this.metrics.count('mqtt', 'errors');
    this.log.debug({ client: clientId, err: err.message }, 'mqtt connection error');
  }

  private preConnect(_client: Client, clientId: string, cb: (err: Error | null, ok: boolean) => void): void {
    // Known aedes crash inputs: client ids naming Object.prototype members.
    if (isPrototypeName(clientId)) {
      this.metrics.refuse(null, 'FL_ERR_MQTT_CLIENT_ID');
      this.counts.refusedConnections++;
      return cb(new Error(`client id ${JSON.stringify(clientId)} is reserved`), false);
    }
    cb(null, true);
  }

  private authenticate(
    client: Client, username: string | undefined, password: Buffer | undefined,
    cb: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const refuse = (returnCode: number, why: string, code: 'FL_ERR_MQTT_AUTH' | 'FL_ERR_MQTT_CERT_REVOKED' = 'FL_ERR_MQTT_AUTH', device?: string) => {
      this.metrics.count('mqtt', 'dropped');
      // Counted against the device the client claimed to be (its certificate, user name, else client id).
      this.metrics.refuse(device || username || client.id || null, code);
      this.counts.refusedConnections++;
      this.log[code === 'FL_ERR_MQTT_AUTH' ? 'info' : 'warn']({ client: client.id, code, why }, 'mqtt connection refused');
      cb(Object.assign(new Error(why), { returnCode }) as AuthenticateError, false);
    };
    const socket = (client.conn as unknown as { socket?: Duplex }).socket;
    if (socket instanceof TLSSocket) {
      const id = this.certificateIdentity(socket);
      // [MQTT-3.2.2-3] return code 5: not authorized.
      if (!id) return refuse(5, 'client certificate carries no usable device id');
      const cert = socket.getPeerCertificate(true);
      const revoked = this.revocation?.check(cert.serialNumber, cert.issuerCertificate?.fingerprint256);
      if (revoked) {
        this.counts.revokedRefusals++;
        const why = `certificate ${revoked.serial} of ${id} was revoked at ${revoked.revokedAt}${revoked.reason ? ` (${revoked.reason})` : ''}`;
        return refuse(5, why, 'FL_ERR_MQTT_CERT_REVOKED', id);
      }
      this.identity.set(client, id);
      this.serials.set(client, normalizeSerial(cert.serialNumber));
      return cb(null, true);
    }
    if (username !== undefined && username !== '') {
      const id = this.creds.check(username, password);
      // Return code 4: bad user name or password.
      if (!id) return refuse(4, `bad username or password for ${JSON.stringify(username)}`);
      this.identity.set(client, id);
      return cb(null, true);
    }
    if (!this.cfg.allowAnonymous) return refuse(5, 'anonymous clients are not allowed');
    this.identity.set(client, client.id);
    cb(null, true);
  }

  private certificateIdentity(socket: TLSSocket): string | null {
    const cert = socket.getPeerCertificate();
    if (!cert || !socket.authorized) return null;
    let id: string | undefined;
    if (this.cfg.tls.identityFrom === 'cn') {
      const cn = cert.subject?.CN;
      id = Array.isArray(cn) ? cn[0] : cn;
    } else {
      id = cert.subjectaltname?.split(',').map((s) => s.trim().replace(/^(DNS|URI):/, ''))[0];
    }
    return id && isDeviceId(id) ? id : null;
  }

  private authorizeSubscribe(client: Client | null, sub: Subscription, cb: (err: Error | null, sub: Subscription | null) => void): void {
    const id = client ? this.identity.get(client) : undefined;
    if (!this.cfg.enforceAcl || client === null) return cb(null, sub);
    if (id && maySubscribe(id, sub.topic)) return cb(null, sub);
    this.metrics.count('mqtt', 'dropped');
    this.metrics.refuse(id ?? client.id, 'FL_ERR_MQTT_ACL_DENIED');
    this.counts.refusedSubscriptions++;
    // A null subscription makes aedes answer 0x80 (failure) in the SUBACK [MQTT-3.9.3].
    cb(null, null);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    // [MQTT-4.7.2-1]: topics starting with $ are the server's.
    if (packet.topic.startsWith('$')) return callback(new Error('$ topics are reserved'));
    if (Buffer.byteLength(packet.topic) > this.cfg.maxTopicLength) return callback(new Error('topic too long'));
    const ingest = this.ingest;
    if (!ingest || !client) return callback(new Error('not started'));
    const identity = this.identity.get(client) ?? client.id;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const aclDenied = this.cfg.enforceAcl && !mayPublish(identity, packet.topic);
    const topic = parseTopic(packet.topic);
    if (!aclDenied && topic.kind === 'other') {
      // A device's answer to a command is not telemetry: it goes to the commands part, not the outbox.
      if (this.commandEvents && packet.topic === commandAckTopic(identity)) this.commandEvents.ack(identity, payload);
      return callback(null);
    }
    this.metrics.count('mqtt', 'received');

    let pre: { code: ErrorCode; detail: string } | undefined;
    if (aclDenied) pre = { code: 'FL_ERR_MQTT_ACL_DENIED', detail: `${identity} may not publish to ${packet.topic.slice(0, 200)}` };
    else if (topic.kind === 'bad-device-id') pre = { code: 'FL_ERR_INGEST_DEVICE_ID', detail: JSON.stringify(topic.deviceId.slice(0, 80)) };
    else if (payload.length > this.cfg.maxPayloadBytes) pre = { code: 'FL_ERR_INGEST_TOO_LARGE', detail: `${payload.length} > ${this.cfg.maxPayloadBytes} bytes` };

    const redelivery = packet.qos === 1 && packet.messageId !== undefined ? redeliveryOf(client.id, packet, payload) : undefined;
    ingest({
      // Refusals are counted against the device that sent them, whatever topic they named.
      deviceId: topic.kind === 'telemetry' && !aclDenied ? topic.deviceId : identity,
      source: SourceProtocol.SOURCE_PROTOCOL_MQTT,
      format: topic.kind === 'telemetry' ? topic.format : 'json',
      raw: payload.length > this.cfg.maxPayloadBytes ? payload.subarray(0, this.cfg.maxPayloadBytes) : payload,
      receivedMs: Date.now(),
      topic: packet.topic.slice(0, 512),
      ...(pre ? { preRejection: pre } : {}),
      ...(redelivery ? { redelivery } : {}),
    }).then(
      (outcome) => {
        if (outcome.ok && redelivery && client.closed) this.resends?.unacknowledged(redelivery);
        // Publishing outside its own subtree is not a device mistake to acknowledge but a breach of
        // its permissions: it is quarantined and counted above, and the connection is closed.
        if (aclDenied) return callback(new Error(pre!.detail));
        if (!outcome.ok && outcome.rejection.code === 'FL_ERR_RATE_LIMITED') {
          const n = (this.throttled.get(client) ?? 0) + 1;
          this.throttled.set(client, n);
          if (this.limits.disconnectAfter > 0 && n >= this.limits.disconnectAfter) {
            this.log.warn({ client: client.id, throttled: n }, 'disconnecting a client that keeps exceeding its rate limit');
            this.counts.abuseDisconnects++;
            return callback(new Error('rate limit exceeded repeatedly'));
          }
        } else {
          this.throttled.delete(client);
        }
        if (outcome.ok) failpoint('after-commit-before-puback');
        // Refused input is acknowledged once quarantined (or counted, when throttled): MQTT 3.1.1 has
        // no negative PUBACK, and a device that never gets one would resend the same message forever.
        callback(null);
      },
      (err: Error) => {
        // Nothing was committed: no PUBACK. Closing the connection makes a QoS 1 sender resend
        // after it reconnects [MQTT-4.4.0-1].
        this.metrics.count('mqtt', 'errors');
        this.log.warn({ client: client.id, err: err.message }, 'outbox refused a reading; disconnecting the client');
        callback(err);
      },
    );
  }

  // --- commands (commands/service.ts MqttCommandTarget) ----------------------------------------------

  private notifySubscribed(client: Client): void {
    const id = this.identity.get(client);
    if (id && this.commandEvents && this.subscribedClient(id)) this.commandEvents.subscribed(id);
  }

  /** The most recently connected client of the device subscribed to its commands topic. */
  private subscribedClient(deviceId: string): Client | undefined {
    const topic = commandsTopic(deviceId);
    let found: Client | undefined;
    for (const client of this.connected.keys()) {
      if (client.closed || this.identity.get(client) !== deviceId) continue;
      const subs = (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions;
      if (Object.keys(subs).some((f) => filterMatches(f, topic))) found = client;
    }
    return found;
  }

  subscribed(deviceId: string): boolean {
    return this.subscribedClient(deviceId) !== undefined;
  }

  online(deviceId: string): boolean {
    for (const [client, info] of this.connected) if (!client.closed && info.deviceId === deviceId) return true;
    return false;
  }

  /**
   * Publishes a command at QoS 1 to one subscribed client of the device (one, so a device logged in
   * twice still gets it once). `onPuback` runs on that client's PUBACK for it; for a client that
   * subscribed to the exact topic at QoS 0 (aedes then sends at QoS 0, which has no PUBACK) it runs
   * once the packet is written.
   */
  send(deviceId: string, message: Buffer, onPuback: () => void): boolean {
    const client = this.subscribedClient(deviceId);
    if (!client) return false;
    const topic = commandsTopic(deviceId);
    const exact = (client as unknown as { subscriptions: Record<string, { qos?: number }> }).subscriptions[topic];
    const qos0 = exact !== undefined && (exact.qos ?? 0) === 0;
    this.commandSends.set(message, { client, onPuback });
    client.publish({ cmd: 'publish', topic, payload: message, qos: 1, retain: false, dup: false }, (err) => {
      if (err) this.log.warn({ client: client.id, err: err.message }, 'mqtt: command publish failed');
      else if (qos0) onPuback();
    });
    return true;
  }

  /**
   * aedes' authorizeForward hook, called for every packet on its way to a client. For a command it
   * picks the packet id here, the way aedes' QoSPacket would (the client's next id, wrapping at
   * 65535), because aedes only assigns one later, in a deferred step this code cannot see; knowing
   * it is what ties the client's PUBACK to the command. aedes keeps an id it finds on the packet.
   */
  private forwardCommand<P extends PublishPacket>(client: Client, packet: P): P | null {
    const payload = packet.payload;
    const send = Buffer.isBuffer(payload) ? this.commandSends.get(payload) : undefined;
    if (!send) {
      // Only the gateway speaks on a commands topic: whatever a client published there (or left
      // retained) is not passed on, so no client can pose as the cloud.
      return isCommandsTopic(packet.topic) ? null : packet;
    }
    if (send.client !== client) return null;
    this.commandSends.delete(payload as Buffer);
    const c = client as unknown as { _nextId: number };
    const id = c._nextId;
    c._nextId = id >= 65535 ? 1 : id + 1;
    packet.messageId = id;
    let owed = this.awaitingPuback.get(client);
    if (!owed) this.awaitingPuback.set(client, (owed = new Map()));
    owed.set(id, send.onPuback);
    return packet;
  }

  /**
   * aedes reports a PUBACK through the persistence's outgoingClearMessageId (lib/handlers/puback.js),
   * with the client and the packet id, for clean and persistent sessions alike; its 'ack' event
   * carries the original packet only for persistent ones. So the persistence call is where a command's
   * PUBACK [MQTT-4.3.2] is seen.
   */
  private watchPubacks(): void {
    const persistence = (this.broker as unknown as { persistence: { outgoingClearMessageId(c: Client, p: { messageId?: number }): Promise<unknown> } }).persistence;
    const clear = persistence.outgoingClearMessageId.bind(persistence);
    persistence.outgoingClearMessageId = (client, packet) => {
      const owed = this.awaitingPuback.get(client);
      const done = packet.messageId === undefined ? undefined : owed?.get(packet.messageId);
      if (done) {
        owed!.delete(packet.messageId!);
        done();
      }
      return clear(client, packet);
    };
  }

  status(): AdapterStatus {
    const up = this.listeners.filter((l) => l.server.listening);
    if (up.length === 0) return { name: this.name, state: 'down', detail: 'not listening' };
    return {
      name: this.name,
      state: 'up',
      detail: `${this.clients} clients; ${up.map((l) => `${l.kind}:${l.port}`).join(' ')}`,
      counters: { clients: this.clients, ...this.counts },
    };
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    // The broker first: it disconnects the clients, which server.close() would otherwise wait for.
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    this.revocation?.close();
    this.wss?.close();
    for (const l of this.listeners) {
      if ('closeAllConnections' in l.server) l.server.closeAllConnections();
      await new Promise<void>((resolve) => l.server.close(() => resolve()));
    }
    await this.level?.close();
  }
}
