// Fetches now and every `everyMs` while the view is shown; a failed refresh keeps the last data and
// says why (a cabinet's Wi-Fi drops; the tech should still see the last figures and how old they are).
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describe } from './api';

export interface Polled<T> {
  data: T | null;
  error: string | null;
  at: number | null;
  refresh: () => Promise<void>;
}

export function usePolling<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [at, setAt] = useState<number | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);

  const refresh = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const v = await loadRef.current();
      if (mine !== seq.current) return;
      setData(v);
      setError(null);
      setAt(Date.now());
    } catch (err) {
      if (mine !== seq.current) return;
      setError(describe(err));
    }
  }, []);

  useEffect(() => {
    void refresh();
    if (everyMs <= 0) return;
    const t = window.setInterval(() => void refresh(), everyMs);
    return () => {
      seq.current++;
      window.clearInterval(t);
    };
  }, deps);

  return { data, error, at, refresh };
}
