// Copies text through main (app call `copyText` -> Electron's clipboard). The page's own
// navigator.clipboard is not used: main denies every permission request, which in Electron
// includes the async Clipboard API's 'clipboard-sanitized-write', so it would fail silently.
// A failure lands in the error banner like any other action.
import { useEffect, useRef, useState } from 'react';
import { useAction } from '../context.js';

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const act = useAction();
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return (
    <button
      type="button"
      className="copy"
      // The visible word is part of the accessible name (WCAG 2.5.3, label in name).
      aria-label={done ? label.replace(/^Copy\b/, 'Copied') : label}
      title={label}
      onClick={() =>
        void act(async (c) => {
          await c.app('copyText', { Text: text });
          setDone(true);
          clearTimeout(timer.current);
          timer.current = setTimeout(() => setDone(false), 1200);
        })
      }
    >
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}
