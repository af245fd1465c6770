// The `commands` section: commands from the cloud to devices (DESIGN.md topics iot.commands and
// iot.command-status). The schema is the documentation; gateway.sample.yaml shows the same settings.
import { z } from 'zod';

export const commandsConfigSchema = z.strictObject({
  /** Take commands for this gateway's devices from the cloud. false: nothing is read from commandsTopic. */
  enabled: z.boolean().default(true),
  /** Where the cloud puts commands, key = gateway id. */
  topic: z.string().min(1).default('iot.commands'),
  /** Where the gateway reports delivered / acknowledged / failed / expired, key = command id. */
  statusTopic: z.string().min(1).default('iot.command-status'),
  /**
   * How often the consumer asks Kafka for new commands when it last found none, and how often
   * waiting commands are checked for their expiry.
   */
  pollIntervalMs: z.number().int().min(10).max(60_000).default(500),
  /** Finished commands are remembered this long (and past their expiry) before the ledger forgets them. */
  keepDoneMs: z.number().int().min(60_000).default(7 * 24 * 3_600_000),
});

export type CommandsConfig = z.infer<typeof commandsConfigSchema>;
