// Modbus adapter settings (stub: the adapter's author fills this in).
import { z } from 'zod';

export const modbusConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
});

export type ModbusConfig = z.infer<typeof modbusConfigSchema>;
