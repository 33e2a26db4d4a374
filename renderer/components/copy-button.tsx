// Copies text with the async Clipboard API (allowed in our own page; no Node needed).
import { useState } from 'react';

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="copy"
      aria-label={label}
      title={label}
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => {
            setDone(true);
            setTimeout(() => setDone(false), 1200);
          },
          () => setDone(false),
        );
      }}
    >
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}
