// A fixed-row-height windowed list: only the rows in view are in the DOM, so thousands of peers
// scroll and filter without rendering thousands of nodes. Each row says its place in the whole
// list (aria-setsize / aria-posinset), since a screen reader sees only the rendered ones.
import { useEffect, useState, type ReactNode } from 'react';

export function VirtualList<T>(props: {
  items: readonly T[];
  rowHeight: number;
  height: number;
  label: string;
  render: (item: T, index: number) => ReactNode;
  itemKey: (item: T) => string;
  /** The rows actually in view (no overscan), [first, end), after each scroll or list change. */
  onVisibleRange?: (first: number, end: number) => void;
}) {
  const { items, rowHeight, height, render, itemKey, label, onVisibleRange } = props;
  const [scrollTop, setScrollTop] = useState(0);
  const overscan = 6;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const count = Math.ceil(height / rowHeight) + overscan * 2;
  const visible = items.slice(first, first + count);
  const inViewFirst = Math.min(items.length, Math.floor(scrollTop / rowHeight));
  const inViewEnd = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight));
  useEffect(() => {
    onVisibleRange?.(inViewFirst, inViewEnd);
  }, [inViewFirst, inViewEnd, items, onVisibleRange]);
  return (
    <div
      className="virtual-list"
      style={{ height, overflowY: 'auto', position: 'relative' }}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      role="list"
      aria-label={label}
    >
      <div style={{ height: items.length * rowHeight, position: 'relative' }}>
        {visible.map((it, i) => (
          <div
            role="listitem"
            aria-setsize={items.length}
            aria-posinset={first + i + 1}
            key={itemKey(it)}
            style={{ position: 'absolute', top: (first + i) * rowHeight, left: 0, right: 0, height: rowHeight }}
          >
            {render(it, first + i)}
          </div>
        ))}
      </div>
    </div>
  );
}
