/**
 * Spreadsheet formula injection: Excel, LibreOffice and Sheets read a cell
 * whose text starts with `=`, `+`, `-` or `@` (or a tab or carriage return
 * before one) as a formula, so third-party text in an export (a note's
 * title, a novel's author) could run `=HYPERLINK(…)` or a DDE command on the
 * customer's machine. Such text gets a leading apostrophe: the spreadsheet
 * shows it as text and evaluates nothing. Numbers are not text and stay as
 * they are; JSON exports are not spreadsheets and are left alone.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function inertCell(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}
