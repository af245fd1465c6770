// The `clock` section of gateway.yaml: where the gateway learns whether its wall clock can be
// trusted, and what it does with readings it stamps while it cannot (docs/ARCHITECTURE.md, "Time").
import { z } from 'zod';

export const clockConfigSchema = z
  .strictObject({
    /**
     * system: the kernel's NTP state (adjtimex, or systemd-timesyncd's flag) and wall-clock jumps;
     * for gateways without a battery-backed clock (Raspberry Pi class). trusted: the wall clock is
     * always right (an RTC, or tests); readings are stamped as before. file: a JSON test clock
     * `{"offsetMs": n, "synced": bool, "bootId"?: "…"}` read from `file`, so a test can start a
     * real gateway a year back and unsynchronised.
     */
    source: z.enum(['system', 'trusted', 'file']).default('trusted'),
    /** The JSON file of `source: file`; re-read every pollMs. */
    file: z.string().min(1).optional(),
    /** How often the source is asked, and the wall clock compared with the monotonic one. */
    pollMs: z.number().int().min(50).max(600_000).default(10_000),
    /** A step of the wall clock against the monotonic clock larger than this counts as a jump. */
    jumpThresholdMs: z.number().int().min(1).default(2_000),
    /**
     * How long a reading stamped on an untrusted clock waits in the outbox for the clock to be
     * trusted (and the reading corrected); after that it is sent at its untrusted time, flagged
     * FL_ERR_CLOCK_UNSYNCED. Readings behind it wait with it, so each device's order holds.
     */
    holdUnsyncedMs: z.number().int().min(0).default(15 * 60_000),
  })
  .superRefine((c, ctx) => {
    if (c.source === 'file' && !c.file) ctx.addIssue({ code: 'custom', path: ['file'], message: 'expected a path: source is file' });
  });

export type ClockConfig = z.infer<typeof clockConfigSchema>;
