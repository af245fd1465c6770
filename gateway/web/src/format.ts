// Numbers and times as a field tech reads them: short, with units, UTC where a clock time matters.

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function ago(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'never';
  return `${duration(Date.now() - ms)} ago`;
}

export function clock(t: number | string | null | undefined): string {
  if (t === null || t === undefined) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A decoded register value: integers as they are, floats with enough digits to tell orders apart. */
export function value(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (Number.isInteger(v) && abs < 1e15) return String(v);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return v.toExponential(4);
  return String(Number(v.toPrecision(8)));
}

const SOURCES: Record<number, string> = { 0: 'unspecified', 1: 'MQTT', 2: 'CoAP', 3: 'Modbus RTU', 4: 'Modbus TCP' };
export function source(n: number): string {
  return SOURCES[n] ?? `source ${n}`;
}

/** A quarantined payload: text when it is printable, hex otherwise. */
export function payload(base64: string): { text: string; binary: boolean } {
  const bin = atob(base64);
  const bytesArr = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytesArr);
  // eslint-disable-next-line no-control-regex
  const printable = !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text);
  if (printable) return { text, binary: false };
  return { text: Array.from(bytesArr, (b) => b.toString(16).padStart(2, '0')).join(' '), binary: true };
}
