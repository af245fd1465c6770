// The commands part of the gateway, in one object the gateway starts and stops: the ledger
// (<dataDir>/commands.db), the consumer of iot.commands, the service that hands commands to
// devices, and the lane that sends their statuses on the forwarder's producer.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import type { Forwarder } from '../forward/forwarder.js';
import type { CommandsConfig } from './config.js';
import { CommandConsumer } from './consumer.js';
import { CommandLedger } from './ledger.js';
import { CommandService, type CommandTargets } from './service.js';
import { StatusLane } from './status-lane.js';

export interface CommandsStatus {
  consumer: CommandConsumer['state'];
  lastError: string;
  counters: CommandService['counters'];
  statusesWaiting: number;
  statusesSent: number;
}

export class Commands {
  readonly ledger: CommandLedger;
  readonly service: CommandService;
  readonly lane: StatusLane;
  private readonly consumer: CommandConsumer;
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly cfg: CommandsConfig,
    kafka: GatewayConfig['kafka'],
    gatewayId: string,
    dataDir: string,
    targets: CommandTargets,
    private readonly log: Logger,
  ) {
    this.ledger = new CommandLedger(join(dataDir, 'commands.db'));
    this.lane = new StatusLane(cfg.statusTopic, this.ledger, log, { minMs: kafka.retryBackoffMinMs, maxMs: kafka.retryBackoffMaxMs });
    this.service = new CommandService({ gatewayId, ledger: this.ledger, targets, log, onStatus: () => this.lane.wake() });
    this.consumer = new CommandConsumer(cfg, kafka, gatewayId, (value) => this.service.receive(value), log);
  }

  /** Attaches the status lane to `forwarder` (again after a reconfigure replaced it). */
  attach(forwarder: Forwarder): void {
    forwarder.addLane(this.lane);
  }

  start(): void {
    this.service.recover();
    this.ledger.prune(Date.now() - this.cfg.keepDoneMs);
    this.consumer.start();
    this.sweepTimer = setInterval(() => this.service.sweep(), this.cfg.pollIntervalMs);
    this.sweepTimer.unref();
  }

  status(): CommandsStatus {
    return {
      consumer: this.consumer.state,
      lastError: this.consumer.lastError || this.lane.lastError,
      counters: { ...this.service.counters },
      statusesWaiting: this.lane.waiting(),
      statusesSent: this.lane.sent,
    };
  }

  /** Stops reading, lets a Modbus write in progress finish; call before the forwarder stops so its statuses can still go. */
  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.consumer.stop();
    await this.service.idle();
  }

  close(): void {
    this.ledger.close();
    this.log.debug('commands ledger closed');
  }
}
