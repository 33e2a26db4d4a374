// One engine preference as a checkbox. The checkbox shows the engine's value (from Notify); a click
// asks the engine to change it and the box follows when the engine publishes the new prefs.
import { useId } from 'react';
import { useAction, useUi } from '../../context.js';

export type BoolPref = 'ExitNodeAllowLANAccess' | 'RouteAll' | 'CorpDNS';

export function PrefToggle({ pref, label, help }: { pref: BoolPref; label: string; help: string }) {
  const value = useUi((s) => s.engine.prefs?.[pref]);
  const act = useAction();
  const id = useId();
  const helpId = useId();
  return (
    <div className="toggle">
      <input
        id={id}
        type="checkbox"
        checked={value ?? false}
        disabled={value === undefined}
        aria-describedby={helpId}
        onChange={(e) => {
          const next = e.target.checked;
          void act((c) => c.call('editPrefs', { [pref]: next }));
        }}
      />
      <label htmlFor={id}>{label}</label>
      <p id={helpId} className="help">
        {help}
      </p>
    </div>
  );
}
