// Plain text laid out for a terminal of a known width (see outputWidth). It
// is read in adb shell and on serial consoles: ASCII only, no escape codes.
// Loaded by the commands that print tables, not at a CLI's start.

/**
 * `text` in lines of at most `width`, broken between words; the lines after
 * the first start with `indent`. A word longer than a line keeps its own line
 * whole: cutting an address or a path would make it wrong.
 */
export function wrap(text: string, width: number, indent = ''): string[] {
  const lead = text.length - text.trimStart().length;
  const lines: string[] = [];
  let line = text.slice(0, lead);
  let fresh = true;
  for (const word of text.slice(lead).split(' ')) {
    if (fresh) line += word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = `${indent}${word}`;
    }
    fresh = false;
  }
  lines.push(line);
  return lines;
}

export interface Column {
  header: string;
  cells: string[];
  /** When the table is too wide, columns are left out lowest first; a column without one always stays. */
  dropOrder?: number;
}

const GAP = 2;

const widthOf = (column: Column) => Math.max(column.header.length, ...column.cells.map((cell) => cell.length));

/**
 * The columns side by side, two spaces apart, without trailing blanks. While
 * the table is wider than `width`, the column of the lowest drop order is
 * left out; `left` names the headers that were.
 */
export function fitTable(columns: Column[], width: number): { lines: string[]; left: string[] } {
  const shown = [...columns];
  const total = () => shown.reduce((sum, column) => sum + widthOf(column), 0) + GAP * (shown.length - 1);
  while (total() > width) {
    const droppable = shown.filter((column) => column.dropOrder !== undefined);
    if (droppable.length === 0) break;
    const first = droppable.reduce((a, b) => ((b.dropOrder as number) < (a.dropOrder as number) ? b : a));
    shown.splice(shown.indexOf(first), 1);
  }
  const widths = shown.map(widthOf);
  const rows = (shown[0]?.cells.length ?? 0) + 1;
  const lines: string[] = [];
  for (let row = 0; row < rows; row++) {
    const cells = shown.map((column, i) => (row === 0 ? column.header : (column.cells[row - 1] ?? '')).padEnd(widths[i] ?? 0));
    lines.push(cells.join(' '.repeat(GAP)).trimEnd());
  }
  return { lines, left: columns.filter((column) => !shown.includes(column)).map((column) => column.header) };
}
