// A fixed-row-height windowed list: only the rows in view are in the DOM, so thousands of peers
// scroll and filter without rendering thousands of nodes.
import { useState, type ReactNode } from 'react';

export function VirtualList<T>(props: {
  items: readonly T[];
  rowHeight: number;
  height: number;
  label: string;
  render: (item: T, index: number) => ReactNode;
  itemKey: (item: T) => string;
}) {
  const { items, rowHeight, height, render, itemKey, label } = props;
  const [scrollTop, setScrollTop] = useState(0);
  const overscan = 6;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const count = Math.ceil(height / rowHeight) + overscan * 2;
  const visible = items.slice(first, first + count);
  return (
    <div
      className="virtual-list"
      style={{ height, overflowY: 'auto', position: 'relative' }}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      role="list"
      aria-label={label}
      aria-rowcount={items.length}
    >
      <div style={{ height: items.length * rowHeight, position: 'relative' }}>
        {visible.map((it, i) => (
          <div
            role="listitem"
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
