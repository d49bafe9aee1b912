import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

/**
 * The fonts PDFs are set in: Noto Sans SC regular and bold (Chinese and
 * Latin), shipped by the npm package @expo-google-fonts/noto-sans-sc (SIL
 * OFL 1.1, whole TTF fonts that pdfkit subsets into each file).
 */

const require = createRequire(import.meta.url);
const FONT_FILES = {
  regular: '@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf',
  bold: '@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf',
} as const;
let fonts: Promise<{ regular: Buffer; bold: Buffer }> | undefined;

/** The two fonts, read once per process (about 10 MB each). */
export function loadPdfFonts(): Promise<{ regular: Buffer; bold: Buffer }> {
  fonts ??= Promise.all([readFile(require.resolve(FONT_FILES.regular)), readFile(require.resolve(FONT_FILES.bold))]).then(([regular, bold]) => ({
    regular,
    bold,
  }));
  fonts.catch(() => (fonts = undefined)); // a failed read is tried again next time
  return fonts;
}

/** Emoji and their joiners are not in the font: left out rather than drawn as empty boxes; whitespace runs become one space. */
export function printable(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noMisleadingCharacterClass: each joiner and selector is removed on its own, not as part of a sequence
      .replace(/[\p{Extended_Pictographic}\u{FE0F}\u{200D}\u{20E3}]/gu, '')
      .replace(/\s+/g, ' ')
      .trim()
  );
}
