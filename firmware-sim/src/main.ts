#!/usr/bin/env node
// fieldline-sim --mqtt N --rate HZ [--url mqtt://localhost:1883] [--qos 0|1] [--duration S]
import { parseArgs } from 'node:util';
import { startMqttFleet } from './mqtt-sensor.js';

const USAGE = `usage: fieldline-sim --mqtt N --rate HZ [--url mqtt://localhost:1883] [--qos 1] [--duration S] [--prefix sim-mqtt]
  --mqtt N       simulated MQTT sensors
  --rate HZ      messages per second per sensor (each carries seq, temperature and humidity)
  --duration S   stop after S seconds and print a summary (default: run until interrupted)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      mqtt: { type: 'string', default: '0' },
      rate: { type: 'string', default: '1' },
      url: { type: 'string', default: 'mqtt://localhost:1883' },
      qos: { type: 'string', default: '1' },
      duration: { type: 'string' },
      prefix: { type: 'string', default: 'sim-mqtt' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const sensors = Number(values.mqtt);
  const rate = Number(values.rate);
  const qos = Number(values.qos);
  const problems = [
    !Number.isInteger(sensors) || sensors < 0 ? `--mqtt ${values.mqtt}: expected a whole number ≥ 0` : '',
    !(rate > 0 && rate <= 10_000) ? `--rate ${values.rate}: expected a number in (0, 10000]` : '',
    qos !== 0 && qos !== 1 ? `--qos ${values.qos}: expected 0 or 1` : '',
  ].filter(Boolean);
  if (problems.length) {
    console.error(problems.join('\n') + '\n' + USAGE);
    return 2;
  }
  const fleet = await startMqttFleet({ url: values.url, sensors, rate, qos: qos as 0 | 1, prefix: values.prefix });
  console.log(`simulating ${sensors} MQTT sensors at ${rate} Hz against ${values.url}`);
  await new Promise<void>((done) => {
    if (values.duration) setTimeout(done, Number(values.duration) * 1000);
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await fleet.stop();
  console.log(JSON.stringify(fleet.stats));
  return 0;
}

main().then((c) => process.exit(c), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
