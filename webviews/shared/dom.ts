// DOM helpers every Netlens page uses: a required element by id, and a table cell.

/** The element with this id; a page whose markup lacks it is a bug, so this throws naming the page and id. */
export function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`${document.title || 'Netlens page'}: #${id} is missing`);
  return found as T;
}

/** Appends a cell with plain text (never HTML) to a table row. */
export function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}
