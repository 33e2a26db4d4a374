// Route check: "which way does traffic to this address go right now?" — the engine's `why` answer
// (the same one `meshtray why` prints, from the route table the engine installed), as a sentence,
// with the peer's current path and a latency the engine measured by pinging that peer.
// The answer is a measurement the user asked for, kept only in this view; when the engine
// publishes different settings the view says the answer may be out of date instead of guessing.
import { useId, useMemo, useRef, useState, type FormEvent } from 'react';
import type { WhyAnswerWire } from '../../../common/contract/api.js';
import { measureLatency } from '../../api/measure-latency.js';
import { useServices, useUi } from '../../context.js';
import { peerRows } from '../../store/selectors.js';
import { checkDestination, describePing, describeRoute, describeWhyError, inputError, type WhyErrorView } from './route-answer.js';

interface Asked {
  answer: WhyAnswerWire;
  /** The engine settings the answer was computed under (the `settings` selector below). */
  settings: string;
  at: number;
}

type Latency = { state: 'measuring' } | { state: 'done'; line: string };

export function RouteCheck() {
  const { client, store } = useServices();
  const status = useUi((s) => s.engine.status);
  const running = useUi((s) => s.engine.state === 'Running');
  // The settings that change the route table; a string so the selector result is stable.
  const settings = useUi((s) => {
    const p = s.engine.prefs;
    return p ? `${s.engine.state}|${p.WantRunning}|${p.ExitNodeID}|${p.ExitNodeAllowLANAccess}|${p.RouteAll}|${p.CorpDNS}` : '';
  });
  const [input, setInput] = useState('');
  const [busy, setBusy] = useState(false);
  const [asked, setAsked] = useState<Asked | undefined>();
  const [error, setError] = useState<WhyErrorView | undefined>();
  const [latency, setLatency] = useState<Latency | undefined>();
  const seq = useRef(0);
  const inputId = useId();
  const listId = useId();
  const errorId = useId();
  const names = useMemo(() => peerRows(status).map((r) => r.name), [status]);

  const check = async (raw: string): Promise<void> => {
    const c = checkDestination(raw);
    const mine = ++seq.current;
    setLatency(undefined);
    if (!c.ok) {
      // This supersedes any check still in flight (its answer is dropped), so the button is free again.
      setBusy(false);
      setAsked(undefined);
      setError(inputError(c.message));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const answer = await client.call('why', { Dest: c.dest });
      if (mine !== seq.current) return;
      setAsked({ answer, settings, at: Date.now() });
      const target = describeRoute(answer).pingTarget;
      if (target) void measure(target, mine);
    } catch (e) {
      if (mine !== seq.current) return;
      const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : 'ERR_INTERNAL';
      setAsked(undefined);
      setError(describeWhyError(code, e instanceof Error ? e.message : String(e), c.dest, running));
    } finally {
      if (mine === seq.current) setBusy(false);
    }
  };

  // A disco ping through the engine: its latency and the path the pong took. Also recorded in the
  // store's pings, which the exit-node picker shows beside the peer.
  const measure = async (target: string, mine: number): Promise<void> => {
    setLatency({ state: 'measuring' });
    try {
      const p = await measureLatency(client, store, target, 3_000);
      if (mine === seq.current) setLatency({ state: 'done', line: describePing(p) });
    } catch (e) {
      if (mine === seq.current) setLatency({ state: 'done', line: `Latency unknown: ${e instanceof Error ? e.message : String(e)}` });
    }
  };

  const onSubmit = (e: FormEvent): void => {
    e.preventDefault();
    void check(input);
  };

  const view = asked ? describeRoute(asked.answer) : undefined;
  const stale = asked !== undefined && asked.settings !== settings;
  return (
    <section aria-labelledby="route-title" className="screen route-check">
      <h2 id="route-title">Route check</h2>
      <p className="help">
        Which way would traffic to an address go right now? The engine answers from the routes it installed: the same answer as{' '}
        <code>meshtray why</code>.
      </p>
      <form onSubmit={onSubmit} className="route-form" noValidate>
        <label htmlFor={inputId}>Address or device name</label>
        <div className="row">
          <input
            id={inputId}
            type="text"
            list={listId}
            value={input}
            autoComplete="off"
            spellCheck={false}
            placeholder="e.g. 100.64.0.2, laptop, 192.168.1.10"
            aria-invalid={error !== undefined}
            aria-describedby={error !== undefined ? errorId : undefined}
            onChange={(e) => setInput(e.target.value)}
          />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Checking…' : 'Check'}
          </button>
        </div>
        <datalist id={listId}>
          {names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
      </form>
      {error !== undefined && (
        <div id={errorId} role="alert" className="route-error" data-testid="route-error">
          <p className="route-error-summary">{error.summary}</p>
          {error.detail && <p className="help">The engine said: {error.detail}</p>}
        </div>
      )}
      {asked && view && (
        <div
          className={`route-answer tone-${view.tone}`}
          data-testid="route-answer"
          data-verdict={asked.answer.verdict}
          data-node={asked.answer.node?.name ?? ''}
          aria-live="polite"
        >
          <p className="route-headline" data-testid="route-headline">
            {view.headline}
          </p>
          <dl>
            <dt>Address</dt>
            <dd>
              <code>{asked.answer.ip}</code>
              {asked.answer.dest !== asked.answer.ip ? ` (${asked.answer.dest})` : ''}
            </dd>
            <dt>Why</dt>
            <dd>{view.detail}</dd>
            {view.route && (
              <>
                <dt>Route</dt>
                <dd>
                  <code>{view.route}</code>
                </dd>
              </>
            )}
            {view.path && (
              <>
                <dt>Path</dt>
                <dd data-testid="route-path">{view.path}</dd>
              </>
            )}
            {latency && (
              <>
                <dt>Latency</dt>
                <dd data-testid="route-latency">{latency.state === 'measuring' ? 'Measuring…' : latency.line}</dd>
              </>
            )}
          </dl>
          <p className="help">
            <code>meshtray why {asked.answer.dest}</code> prints:
          </p>
          <pre className="route-cli" data-testid="route-cli-line">
            {asked.answer.text}
          </pre>
          <p className="help">Checked at {new Date(asked.at).toLocaleTimeString()}.</p>
          {stale && (
            <p className="route-stale" role="status" data-testid="route-stale">
              Your connection settings changed since this answer; press Check to ask again.
            </p>
          )}
        </div>
      )}
    </section>
  );
}
