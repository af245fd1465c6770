// Fetches now and every `everyMs` while the view is shown; a failed refresh keeps the last data
// and says why.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';

export function usePolling<T>(load: () => Promise<T>, everyMs: number, deps: unknown[]) {
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
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : (err as Error).message);
    }
  }, []);

  useEffect(() => {
    setData(null);
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
