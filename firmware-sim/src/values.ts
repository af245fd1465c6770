/** Plausible values: a slow sine per device plus a little noise, within the default ranges. */
export function simulate(metric: string, n: number, device: number): number {
  const wave = Math.sin((n + device * 17) / 50);
  switch (metric) {
    case 'temperature':
      return Math.round((21 + 4 * wave + Math.random() * 0.2) * 100) / 100;
    case 'humidity':
      return Math.round((45 + 10 * wave + Math.random()) * 10) / 10;
    default:
      return Math.round(wave * 1000) / 1000;
  }
}
