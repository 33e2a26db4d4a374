// Everything the user must notice, at the top: the engine's health warnings, a key about to
// expire (with one-click re-auth), the last failed action, keychain problems.
import { useAction, useServices, useUi } from '../../context.js';
import { KEY_EXPIRY_WARN_DAYS, keyExpiryDays } from '../../store/selectors.js';

function inDays(days: number): string {
  if (days < 1) return 'less than a day';
  const n = Math.round(days);
  return `${n} day${n === 1 ? '' : 's'}`;
}

export function Banners({ nowMs }: { nowMs: number }) {
  const health = useUi((s) => s.engine.health);
  const err = useUi((s) => s.engine.errMessage);
  const lastError = useUi((s) => s.lastError);
  const status = useUi((s) => s.engine.status);
  const controlURL = useUi((s) => s.engine.prefs?.ControlURL);
  const secretsWarning = useUi((s) => s.app?.secretsWarning);
  const update = useUi((s) => s.app?.update);
  const login = useUi((s) => s.app?.login);
  const state = useUi((s) => s.engine.state);
  // The sign-in screen shows login progress itself; elsewhere (a re-auth from the main view) a banner does.
  const onSignIn = state === undefined || state === 'NeedsLogin' || state === 'NoState';
  const loginBusy = login && !['idle', 'succeeded'].includes(login.phase);
  const { store } = useServices();
  const act = useAction();
  const days = keyExpiryDays(status, nowMs);
  return (
    <div className="banners">
      {lastError && (
        <div role="alert" className="banner error" data-testid="error-banner">
          <span>{lastError.message}</span>
          <button type="button" aria-label="Dismiss error" onClick={() => store.getState().setError(undefined)}>
            Dismiss
          </button>
        </div>
      )}
      {err && (
        <div role="alert" className="banner error">
          {err}
        </div>
      )}
      {days !== undefined && days < KEY_EXPIRY_WARN_DAYS && (
        <div role="alert" className="banner warn" data-testid="key-expiry">
          <span>
            {days <= 0 ? "This device's key has expired." : `This device's key expires in ${inDays(days)}.`}
          </span>
          <button type="button" disabled={!controlURL} onClick={() => void act((c) => c.app('login', { ControlURL: controlURL ?? '', Reauth: true }))}>
            Re-authenticate
          </button>
        </div>
      )}
      {health.length > 0 && (
        <div role="status" className="banner warn" data-testid="health">
          <strong>Health warnings</strong>
          <ul>
            {health.map((h) => (
              <li key={h}>{h}</li>
            ))}
          </ul>
        </div>
      )}
      {!onSignIn && loginBusy && login && (
        <div role="status" aria-live="polite" className="banner warn" data-testid="login-banner">
          <span>{login.message ?? 'Signing in…'}</span>
          {login.authURL && <code className="auth-url">{login.authURL}</code>}
        </div>
      )}
      {update?.phase === 'error' && update.message && (
        <div role="status" className="banner warn" data-testid="update-banner">
          {update.message}
        </div>
      )}
      {update?.phase === 'ready' && (
        <div role="status" className="banner warn" data-testid="update-banner">
          <span>{update.deferredReason ?? update.message ?? `Meshtray ${update.availableVersion ?? ''} is ready.`}</span>
          <button type="button" onClick={() => void act((c) => c.app('installUpdate', {}))}>
            Restart to update
          </button>
        </div>
      )}
      {secretsWarning && (
        <div role="alert" className="banner warn">
          {secretsWarning}
        </div>
      )}
    </div>
  );
}
