// Account: who is logged in, to which server, key expiry with one-click re-auth, log out, updates.
import { useAction, useUi } from '../../context.js';

const UPDATE_TEXT: Record<string, string> = {
  idle: 'Not checked for updates yet.',
  checking: 'Checking for updates…',
  'up-to-date': 'Meshtray is up to date.',
  downloading: 'Downloading an update in the background…',
  installing: 'Restarting to install the update…',
};

export function AccountScreen() {
  const status = useUi((s) => s.engine.status);
  const prefs = useUi((s) => s.engine.prefs);
  const update = useUi((s) => s.app?.update);
  const act = useAction();
  const self = status?.Self;
  const user = self ? status?.User?.[String(self.UserID)] : undefined;
  return (
    <section aria-labelledby="account-title" className="screen account">
      <h2 id="account-title">Account</h2>
      <dl>
        <dt>Logged in as</dt>
        <dd data-testid="account-login">{user ? `${user.DisplayName} (${user.LoginName})` : 'unknown'}</dd>
        <dt>Login server</dt>
        <dd>
          <code>{prefs?.ControlURL || 'not set'}</code>
        </dd>
        <dt>This device</dt>
        <dd>
          {self ? `${self.DNSName.replace(/\.$/, '') || self.HostName}` : 'unknown'} {(status?.TailscaleIPs ?? []).join(', ')}
        </dd>
        {self?.KeyExpiry && (
          <>
            <dt>Key expires</dt>
            <dd>{new Date(self.KeyExpiry).toLocaleString()}</dd>
          </>
        )}
      </dl>
      <div className="row">
        <button type="button" onClick={() => void act((c) => c.app('login', { ControlURL: prefs?.ControlURL ?? '', Reauth: true }))} disabled={!prefs?.ControlURL}>
          Re-authenticate
        </button>
        <button type="button" className="danger" onClick={() => void act((c) => c.call('logout', {}))}>
          Log out
        </button>
      </div>
      <h3>Updates</h3>
      <p data-testid="update-state">
        {update ? `Version ${update.currentVersion}. ${update.message ?? UPDATE_TEXT[update.phase] ?? update.phase}` : 'Update status unknown.'}
      </p>
      <div className="row">
        <button type="button" onClick={() => void act((c) => c.app('checkForUpdates', {}))}>
          Check for updates
        </button>
        {update?.phase === 'ready' && (
          <button type="button" className="primary" onClick={() => void act((c) => c.app('installUpdate', {}))}>
            Restart to update
          </button>
        )}
      </div>
    </section>
  );
}
