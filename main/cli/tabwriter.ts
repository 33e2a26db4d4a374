// The column layout of Go's text/tabwriter (flags 0, pad char ' '), which tailscale's CLI prints its
// tables with (cmd/tailscale/cli/exitnode.go and whois.go use NewWriter(w, 10, 5, 5, ' ', 0); status.go
// NewWriter(w, 0, 0, 2, ' ', 0)). Matching it keeps scripts that cut columns out of `tailscale …`
// output working on `meshtray …` output.
//
// The rules, as text/tabwriter documents them: a cell is text terminated by a tab; the text after a
// line's last tab is not a cell and is never padded. A column block is a run of consecutive lines
// that all have a cell in that column; every cell of a block is padded to the block's widest cell
// plus `padding`, and to at least `minWidth`.

export interface TabWriterOptions {
  minWidth: number;
  padding: number;
}

/** Lays out `text` (lines split on "\n", cells on "\t") as text/tabwriter does. */
export function tabwrite(text: string, o: TabWriterOptions): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  // widths[i][c]: the width cell c of line i is padded to (only for tab-terminated cells).
  const widths: number[][] = lines.map(() => []);
  const cellsOf = (i: number): number => lines[i]!.length - 1;
  const maxCols = Math.max(0, ...lines.map((_, i) => cellsOf(i)));
  for (let c = 0; c < maxCols; c++) {
    let i = 0;
    while (i < lines.length) {
      if (cellsOf(i) <= c) {
        i++;
        continue;
      }
      let j = i;
      let w = o.minWidth;
      while (j < lines.length && cellsOf(j) > c) {
        w = Math.max(w, width(lines[j]![c]!) + o.padding);
        j++;
      }
      for (let k = i; k < j; k++) widths[k]![c] = w;
      i = j;
    }
  }
  return lines
    .map((cells, i) => {
      let s = '';
      for (let c = 0; c < cells.length - 1; c++) s += cells[c]! + ' '.repeat(Math.max(0, widths[i]![c]! - width(cells[c]!)));
      return s + cells[cells.length - 1]!;
    })
    .join('\n');
}

/** Display width in runes, as text/tabwriter counts it (utf8.RuneCount). */
function width(s: string): number {
  return [...s].length;
}
