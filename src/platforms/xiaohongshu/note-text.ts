/**
 * What a Xiaohongshu note takes: plain text. An article's Markdown becomes
 * the text a reader would see — headings, emphasis, links and code lose
 * their marks, list items keep a bullet, images go (they are uploaded as
 * the note's pictures), HTML tags and entities are resolved — and the
 * topics are normalised the way the creator page takes them. Pure; the
 * publisher measures the limits on what these return.
 */

/** Characters as the creator page counts them (code points, so an emoji is one). */
export function noteLength(text: string): number {
  return [...text].length;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+\d*);/gi, (whole, name: string) => {
    const lower = name.toLowerCase();
    if (lower.startsWith('#x')) return safeCodePoint(Number.parseInt(lower.slice(2), 16)) ?? whole;
    if (lower.startsWith('#')) return safeCodePoint(Number.parseInt(lower.slice(1), 10)) ?? whole;
    return ENTITIES[lower] ?? whole;
  });
}

function safeCodePoint(n: number): string | null {
  return Number.isInteger(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : null;
}

/** One line of Markdown outside code blocks → its text. */
function inline(line: string): string {
  const escapes: string[] = [];
  let t = line.replace(/\\([\\`*_{}[\]()#+\-.!>~|<])/g, (_, c: string) => `\ue000${escapes.push(c) - 1}\ue001`);
  t = t
    .replace(/`+([^`]*?)`+/g, '$1')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/!\[[^\]]*\]\[[^\]]*\]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
    .replace(/<(https?:\/\/[^>\s]+)>/g, '$1')
    .replace(/<\/?[a-z][^>]*>/gi, '')
    .replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, '$2')
    .replace(/(^|[^\w*])\*(?=\S)([^*]*?\S)\*(?!\w)/g, '$1$2')
    .replace(/(^|[^\w])_(?=\S)([^_]*?\S)_(?!\w)/g, '$1$2')
    .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '$1');
  t = decodeEntities(t);
  return t.replace(/\ue000(\d+)\ue001/g, (_, i: string) => escapes[Number(i)]!);
}

/** An article's Markdown → the note's text (lines kept, at most one blank line between paragraphs). */
export function markdownToNoteText(markdown: string): string {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const fenceMark = /^\s{0,3}(`{3,}|~{3,})/.exec(raw);
    if (fence !== null) {
      if (fenceMark && fenceMark[1]!.startsWith(fence)) fence = null;
      else out.push(raw);
      continue;
    }
    if (fenceMark) {
      fence = fenceMark[1]!;
      continue;
    }
    let line = raw;
    // reference definitions and horizontal rules carry no text
    if (/^\s{0,3}\[[^\]]+\]:\s*\S/.test(line)) continue;
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      out.push('');
      continue;
    }
    // a setext heading's underline
    if (/^\s{0,3}(=+|-+)\s*$/.test(line) && out.length > 0 && out[out.length - 1]!.trim() !== '') continue;
    // a table's separator row; other rows become their cells
    if (/^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)+\|?\s*$/.test(line)) continue;
    if (/^\s*\|.*\|\s*$/.test(line))
      line = line
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim())
        .join('  ');
    line = line.replace(/^(\s*>\s?)+/, '');
    line = line.replace(/^\s{0,3}#{1,6}\s+(.*?)(\s+#+)?\s*$/, '$1');
    line = line.replace(/^(\s*)[-*+]\s+\[[ xX]\]\s+/, '$1• ').replace(/^(\s*)[-*+]\s+/, '$1• ');
    out.push(inline(line).replace(/\s+$/, ''));
  }
  return out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Topics as the creator page takes them: no leading #, no spaces, no duplicates, none empty. */
export function noteTopics(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const tag of tags) {
    const name = tag
      .replace(/^#+/, '')
      .replace(/\[话题\]#?$/, '')
      .replace(/[\s#]+/g, '');
    if (name) seen.add(name);
  }
  return [...seen];
}
