import type ExcelJSModule from 'exceljs';
import type PDFDocumentClass from 'pdfkit';

/**
 * exceljs and pdfkit, loaded on the first export or report: between them a
 * thousand modules, which every process start (API, worker, CLI) paid for
 * when they were imported up front.
 */
let excel: Promise<typeof ExcelJSModule> | undefined;
let pdf: Promise<typeof PDFDocumentClass> | undefined;

export function loadExcel(): Promise<typeof ExcelJSModule> {
  excel ??= import('exceljs').then((m) => m.default);
  return excel;
}

export function loadPdfDocument(): Promise<typeof PDFDocumentClass> {
  pdf ??= import('pdfkit').then((m) => m.default);
  return pdf;
}
