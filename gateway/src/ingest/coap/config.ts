// CoAP adapter settings (stub: the adapter's author fills this in).
import { z } from 'zod';

export const coapConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
  host: z.string().default('0.0.0.0'),
  port: z.number().int().min(0).max(65535).default(5683),
});

export type CoapConfig = z.infer<typeof coapConfigSchema>;
