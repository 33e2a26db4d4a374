import { PrefToggle } from './pref-toggle.js';

export function SettingsScreen() {
  return (
    <section aria-labelledby="settings-title" className="screen settings">
      <h2 id="settings-title">Settings</h2>
      <PrefToggle pref="RouteAll" label="Use subnets" help="Reach the subnets other devices share (accept routes)." />
      <PrefToggle pref="CorpDNS" label="Use MagicDNS" help="Reach devices by name, and use your tailnet's DNS settings." />
    </section>
  );
}
