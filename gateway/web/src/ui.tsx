// Small pieces every view uses. A state is always a word and a shape as well as a colour, so it
// reads on a washed-out laptop screen in a sunny cabinet and for colour-blind techs.
import type { ComponentChildren } from 'preact';

export type Tone = 'ok' | 'warn' | 'bad' | 'idle';

const MARK: Record<Tone, string> = { ok: '●', warn: '▲', bad: '■', idle: '○' };

export function Badge({ tone, children, title }: { tone: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${tone}`} title={title}>
      <span aria-hidden="true">{MARK[tone]}</span> {children}
    </span>
  );
}

/** adapters, buses, devices, the cloud link: the words the gateway uses, mapped to a tone. */
export function toneOf(state: string): Tone {
  switch (state) {
    case 'up':
    case 'connected':
    case 'done':
    case 'data':
      return 'ok';
    case 'degraded':
    case 'connecting':
    case 'backoff':
    case 'running':
    case 'exception':
      return 'warn';
    case 'down':
    case 'failed':
    case 'disconnected':
      return 'bad';
    default:
      return 'idle';
  }
}

export function StateBadge({ state, title }: { state: string; title?: string }) {
  return (
    <Badge tone={toneOf(state)} {...(title ? { title } : {})}>
      {state}
    </Badge>
  );
}

export function Panel({ title, children, aside, id }: { title: string; children: ComponentChildren; aside?: ComponentChildren; id?: string }) {
  return (
    <section class="panel" aria-label={title} id={id}>
      <div class="panel-head">
        <h2>{title}</h2>
        {aside}
      </div>
      {children}
    </section>
  );
}

export function ErrorLine({ error }: { error: string | null | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function Stale({ at, error }: { at: number | null; error: string | null }) {
  if (error) return <span class="stale bad">refresh failed: {error}</span>;
  if (at === null) return <span class="stale">loading…</span>;
  return <span class="stale">updated {new Date(at).toISOString().slice(11, 19)}Z</span>;
}

/** A labelled input with the config check's message for it right below. */
export function Field({ label, issue, hint, children, wide }: { label: string; issue?: string | undefined; hint?: ComponentChildren; children: ComponentChildren; wide?: boolean }) {
  return (
    <label class={`field${issue ? ' invalid' : ''}${wide ? ' wide' : ''}`}>
      <span class="label">{label}</span>
      {children}
      {hint && <span class="hint">{hint}</span>}
      {issue && (
        <span class="issue" role="alert">
          {issue}
        </span>
      )}
    </label>
  );
}
