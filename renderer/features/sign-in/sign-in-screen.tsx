// Sign-in: the login server is in plain view and editable (Tailscale's or a Headscale URL), and it
// is checked for reachability before anything changes or the browser opens.
import { useId, useState } from 'react';
import { useAction, useUi } from '../../context.js';
import type { ServerCheckResult } from '../../../common/contract/app.js';

export const TAILSCALE_CONTROL_URL = 'https://controlplane.tailscale.com';

export function SignInScreen() {
  const prefsURL = useUi((s) => s.engine.prefs?.ControlURL);
  const login = useUi((s) => s.app?.login);
  const act = useAction();
  const [url, setUrl] = useState<string>(prefsURL || TAILSCALE_CONTROL_URL);
  const [check, setCheck] = useState<ServerCheckResult | undefined>();
  const urlId = useId();
  const helpId = useId();
  const busy = login?.phase === 'checking-server' || login?.phase === 'starting' || login?.phase === 'waiting-for-browser';

  return (
    <section aria-labelledby="signin-title" className="screen sign-in">
      <h1 id="signin-title">Sign in to your tailnet</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          // The login progress below says what happened (checking, unreachable, waiting…): an old
          // "Check server" answer and a banner repeating "unreachable" would say it two more times.
          setCheck(undefined);
          void act((c) => c.app('login', { ControlURL: url }), { quiet: ['ERR_CONTROL_UNREACHABLE'] });
        }}
      >
        <label htmlFor={urlId}>Login server</label>
        <input
          id={urlId}
          name="login-server"
          type="url"
          inputMode="url"
          autoComplete="url"
          aria-describedby={helpId}
          value={url}
          onChange={(e) => {
            setUrl(e.target.value);
            setCheck(undefined);
          }}
          required
        />
        <p id={helpId} className="help">
          Tailscale's server is {TAILSCALE_CONTROL_URL}. For Headscale, enter your server's address, e.g. https://headscale.example.com.
        </p>
        <div className="row">
          <button
            type="button"
            onClick={() =>
              void act(async (c) => {
                setCheck(await c.app('checkServer', { URL: url }));
              })
            }
          >
            Check server
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Log in
          </button>
          {busy && (
            <button type="button" onClick={() => void act((c) => c.app('cancelLogin', {}))}>
              Cancel
            </button>
          )}
        </div>
      </form>
      {check && (
        <p role="status" className={check.reachable ? 'ok' : 'bad'} data-testid="server-check">
          {check.message}
        </p>
      )}
      {/* idle with a message: the last attempt was cancelled ("Login cancelled."); say so. */}
      {login && (login.phase !== 'idle' || login.message) && <LoginProgressView />}
    </section>
  );
}

const PHASE_TEXT: Record<string, string> = {
  'checking-server': 'Checking the login server…',
  'server-unreachable': 'The login server is not reachable.',
  starting: 'Asking the engine to start the login…',
  'waiting-for-browser': 'Waiting for you to finish signing in in your browser…',
  succeeded: 'Signed in.',
  'timed-out': 'Sign-in timed out.',
  failed: 'Sign-in failed.',
};

function LoginProgressView() {
  const login = useUi((s) => s.app?.login);
  if (!login) return null;
  return (
    <div role="status" aria-live="polite" className={`login-progress phase-${login.phase}`} data-testid="login-progress">
      {login.phase !== 'idle' && (
        <p>
          <strong>{PHASE_TEXT[login.phase] ?? login.phase}</strong>
        </p>
      )}
      {login.message && <p>{login.message}</p>}
      {login.authURL && (
        <p className="auth-url">
          Login link:{' '}
          {/* Opens in the system browser (Electron: the window-open handler allows this one URL). */}
          <a href={login.authURL} target="_blank" rel="noopener noreferrer">
            <code>{login.authURL}</code>
          </a>
        </p>
      )}
    </div>
  );
}
