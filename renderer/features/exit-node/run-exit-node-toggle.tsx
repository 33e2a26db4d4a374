// "Run as exit node" below the picker: a checkbox whose value is the engine's prefs, a help line,
// and a status line that reads the engine's answer (off / waiting for approval / approved). A click
// edits AdvertiseRoutes through the typed API, keeping any advertised subnets; the box follows when
// the engine publishes the new prefs.
import { useId } from 'react';
import { useAction, useUi } from '../../context.js';
import {
  advertisesExitNode,
  RUN_EXIT_NODE_HELP,
  RUN_EXIT_NODE_LABEL,
  runExitNodeBlocked,
  runExitNodeState,
  runExitNodeStateText,
  withExitRoutes,
} from './run-exit-node.js';

export function RunExitNodeToggle() {
  const prefs = useUi((s) => s.engine.prefs);
  const self = useUi((s) => s.engine.status?.Self);
  const act = useAction();
  const id = useId();
  const helpId = useId();
  const stateId = useId();
  const on = advertisesExitNode(prefs);
  const state = runExitNodeState(prefs, self);
  const blocked = runExitNodeBlocked(prefs);
  return (
    <div className="toggle run-exit-node">
      <input
        id={id}
        type="checkbox"
        checked={on}
        disabled={prefs === undefined || blocked !== undefined}
        aria-describedby={`${stateId} ${helpId}`}
        onChange={(e) => {
          const next = e.target.checked;
          // Read the routes at click time from the engine's last published prefs.
          const routes = withExitRoutes(prefs?.AdvertiseRoutes ?? [], next);
          void act((c) => c.call('editPrefs', { AdvertiseRoutes: routes }));
        }}
      />
      <label htmlFor={id}>{RUN_EXIT_NODE_LABEL}</label>
      <p id={stateId} className="help run-exit-state" role="status" data-testid="run-exit-node-state" data-state={blocked ? 'blocked' : state}>
        <strong>{blocked ?? runExitNodeStateText(state)}</strong>
      </p>
      <p id={helpId} className="help">
        {RUN_EXIT_NODE_HELP}
      </p>
    </div>
  );
}
