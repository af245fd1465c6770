// Failpoints: named places where the fault tests (test/fault/) make the gateway die on purpose, to
// prove a crash at exactly that moment loses and doubles nothing. Off unless FIELDLINE_FAILPOINTS
// names them (comma-separated) in the gateway's environment; never set in production.
//
//   after-delivery-before-ack   Kafka confirmed a batch; the outbox has not yet deleted it.
//   after-commit-before-puback  An MQTT message is committed to the outbox; its PUBACK is not sent.

const armed = new Set((process.env.FIELDLINE_FAILPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export type Failpoint = 'after-delivery-before-ack' | 'after-commit-before-puback';

/** Dies at once, as kill -9 would, when this failpoint is armed. */
export function failpoint(name: Failpoint): void {
  if (!armed.has(name)) return;
  process.stderr.write(`failpoint ${name}: exiting as if killed\n`);
  process.kill(process.pid, 'SIGKILL');
}
