/**
 * A small, safe markdown → HTML renderer for the analyses an LLM (or the built-in analyst) writes,
 * so an email can show them. The input is untrusted: a model can be talked into echoing anything an
 * attacker put in a packet, a rule name or a flow key. So every piece of text is HTML-escaped, no
 * raw HTML passes through, and links are kept only for http/https URLs (never `javascript:`,
 * `data:` and the like). Supported: ATX headings, paragraphs, **bold**, *italic*, `inline code`,
 * fenced code blocks, bullet and numbered lists (nested by indentation), block quotes, horizontal
 * rules and GFM tables — what models actually write. Pure, no dependencies.
 */

/** Inputs longer than this are cut (with a note) so a runaway answer cannot cost quadratic time. */
export const MARKDOWN_MAX_CHARS = 200_000;
/** Emphasis/link/quote nesting deeper than this is rendered as text. */
const MAX_NESTING = 8;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** The URL as it may appear in an href, or undefined when it is not an absolute http(s) URL. */
export function safeLinkUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  return parsed.href;
}

/** Renders markdown as an HTML fragment (no <html>/<body>), every text escaped. */
export function markdownToHtml(markdown: string): string {
  let text = markdown;
  let truncated = false;
  if (text.length > MARKDOWN_MAX_CHARS) {
    text = text.slice(0, MARKDOWN_MAX_CHARS);
    truncated = true;
  }
  const html = renderBlocks(text.replace(/\r\n?/g, '\n').split('\n'), 0);
  return truncated ? `${html}\n<p><em>[analysis truncated]</em></p>` : html;
}

// ---------------------------------------------------------------- blocks

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const LIST_ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const QUOTE = /^ {0,3}>[ ]?(.*)$/;
const TABLE_SEPARATOR = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

function isBlank(line: string): boolean {
  return line.trim() === '';
}

function startsBlock(lines: readonly string[], index: number): boolean {
  const line = lines[index] ?? '';
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || LIST_ITEM.test(line) || QUOTE.test(line) || isTableStart(lines, index);
}

function isTableStart(lines: readonly string[], index: number): boolean {
  const header = lines[index];
  const separator = lines[index + 1];
  return header !== undefined && separator !== undefined && header.includes('|') && separator.includes('-') && TABLE_SEPARATOR.test(separator);
}

function renderBlocks(lines: readonly string[], depth: number): string {
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (isBlank(line)) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1] ?? '```';
      const language = fence[2] ?? '';
      const body: string[] = [];
      i++;
      while (i < lines.length) {
        const candidate = (lines[i] ?? '').trim();
        if (candidate.startsWith(marker) && /^(`+|~+)$/.test(candidate) && candidate[0] === marker[0]) break;
        body.push(lines[i] ?? '');
        i++;
      }
      i++; // the closing fence (or the end)
      const languageClass = /^[A-Za-z0-9_+-]{1,32}$/.test(language) ? ` class="language-${language}"` : '';
      out.push(`<pre><code${languageClass}>${escapeHtml(body.join('\n'))}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = (heading[1] ?? '#').length;
      out.push(`<h${level}>${renderInline(heading[2] ?? '', depth)}</h${level}>`);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push('<hr>');
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length) {
        const match = QUOTE.exec(lines[i] ?? '');
        if (!match) break;
        quoted.push(match[1] ?? '');
        i++;
      }
      out.push(depth < MAX_NESTING ? `<blockquote>\n${renderBlocks(quoted, depth + 1)}\n</blockquote>` : `<p>${escapeHtml(quoted.join('\n'))}</p>`);
      continue;
    }
    if (isTableStart(lines, i)) {
      i = renderTable(lines, i, depth, out);
      continue;
    }
    if (LIST_ITEM.test(line)) {
      i = renderList(lines, i, depth, out);
      continue;
    }
    const paragraph: string[] = [line.trim()];
    i++;
    while (i < lines.length && !isBlank(lines[i] ?? '') && !startsBlock(lines, i)) {
      paragraph.push((lines[i] ?? '').trim());
      i++;
    }
    out.push(`<p>${renderInline(paragraph.join('\n'), depth)}</p>`);
  }
  return out.join('\n');
}

function tableCells(line: string): string[] {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  // A `\|` is a pipe inside a cell.
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

function renderTable(lines: readonly string[], start: number, depth: number, out: string[]): number {
  const header = tableCells(lines[start] ?? '');
  const alignments = tableCells(lines[start + 1] ?? '').map((cell) => {
    const left = cell.startsWith(':');
    const right = cell.endsWith(':');
    return left && right ? 'center' : right ? 'right' : left ? 'left' : undefined;
  });
  const cell = (tag: string, text: string, column: number): string => {
    const align = alignments[column];
    return `<${tag}${align === undefined ? '' : ` style="text-align:${align}"`}>${renderInline(text, depth)}</${tag}>`;
  };
  const rows: string[] = [`<thead><tr>${header.map((text, column) => cell('th', text, column)).join('')}</tr></thead>`];
  let i = start + 2;
  const body: string[] = [];
  while (i < lines.length && !isBlank(lines[i] ?? '') && (lines[i] ?? '').includes('|')) {
    const cells = tableCells(lines[i] ?? '');
    // Rows keep the header's width: missing cells are empty, extra ones dropped (as GFM does).
    body.push(`<tr>${header.map((_, column) => cell('td', cells[column] ?? '', column)).join('')}</tr>`);
    i++;
  }
  if (body.length > 0) rows.push(`<tbody>${body.join('')}</tbody>`);
  out.push(`<table>${rows.join('')}</table>`);
  return i;
}

interface ListItem {
  text: string[];
  children: ListBlock[];
}

interface ListBlock {
  ordered: boolean;
  start: number;
  indent: number;
  items: ListItem[];
}

function indentWidth(whitespace: string): number {
  let width = 0;
  for (const char of whitespace) width += char === '\t' ? 4 - (width % 4) : 1;
  return width;
}

/** Reads one list (and the lists nested in it by indentation) from `start`; returns the next line. */
function renderList(lines: readonly string[], start: number, depth: number, out: string[]): number {
  const roots: ListBlock[] = [];
  // The open lists, outermost first; an item deeper than the innermost opens a nested list.
  const stack: ListBlock[] = [];
  let i = start;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    const item = LIST_ITEM.exec(line);
    if (item) {
      const indent = indentWidth(item[1] ?? '');
      const marker = item[2] ?? '-';
      const ordered = /\d/.test(marker);
      while (stack.length > 0 && indent < (stack[stack.length - 1]?.indent ?? 0)) stack.pop();
      let current = stack[stack.length - 1];
      if (current !== undefined && indent > current.indent + 1 && stack.length < MAX_NESTING) {
        const parentItem = current.items[current.items.length - 1];
        const nested: ListBlock = { ordered, start: ordered ? Number.parseInt(marker, 10) : 1, indent, items: [] };
        parentItem?.children.push(nested);
        stack.push(nested);
        current = nested;
      } else if (current === undefined || current.ordered !== ordered) {
        // A new list at this level: a root, or a sibling list of another kind.
        if (current !== undefined) stack.pop();
        const block: ListBlock = { ordered, start: ordered ? Number.parseInt(marker, 10) : 1, indent, items: [] };
        const parent = stack[stack.length - 1];
        if (parent === undefined) roots.push(block);
        else parent.items[parent.items.length - 1]?.children.push(block);
        stack.push(block);
        current = block;
      }
      current.items.push({ text: [item[3] ?? ''], children: [] });
      i++;
      continue;
    }
    if (isBlank(line)) {
      // A blank line ends the list unless another item (or an indented continuation) follows.
      let next = i + 1;
      while (next < lines.length && isBlank(lines[next] ?? '')) next++;
      const following = lines[next];
      if (following !== undefined && (LIST_ITEM.test(following) || /^[ \t]{2,}\S/.test(following))) {
        i = next;
        continue;
      }
      break;
    }
    // A continuation line: indented, or lazy text that does not start another block.
    if (/^[ \t]+\S/.test(line) || !startsBlock(lines, i)) {
      const innermost = stack[stack.length - 1];
      innermost?.items[innermost.items.length - 1]?.text.push(line.trim());
      i++;
      continue;
    }
    break;
  }
  for (const root of roots) out.push(listHtml(root, depth));
  return i;
}

function listHtml(block: ListBlock, depth: number): string {
  const tag = block.ordered ? 'ol' : 'ul';
  const startAttribute = block.ordered && block.start !== 1 ? ` start="${block.start}"` : '';
  const items = block.items.map((item) => {
    const nested = item.children.map((child) => `\n${listHtml(child, depth)}`).join('');
    return `<li>${renderInline(item.text.join('\n'), depth)}${nested}</li>`;
  });
  return `<${tag}${startAttribute}>\n${items.join('\n')}\n</${tag}>`;
}

// ---------------------------------------------------------------- inline

const ESCAPABLE = new Set('\\`*_{}[]()#+-.!|<>~"\''.split(''));

/** Whether a character counts as part of a word for `_` emphasis (snake_case stays text). */
function isWordChar(char: string | undefined): boolean {
  return char !== undefined && /[\p{L}\p{N}]/u.test(char);
}

/**
 * Remembers, per delimiter, the first valid closer at or after a position. Whether a position closes
 * does not depend on the opener, so one answer serves every later opener: without this, a text full
 * of unmatched `*` would cost quadratic time.
 */
class CloserCache {
  private readonly found = new Map<string, { from: number; at: number }>();

  find(delimiter: string, from: number, search: (from: number) => number): number {
    const known = this.found.get(delimiter);
    if (known !== undefined && known.from <= from && (known.at === -1 || known.at >= from)) return known.at;
    const at = search(from);
    this.found.set(delimiter, { from, at });
    return at;
  }
}

function renderInline(text: string, depth: number): string {
  if (depth > MAX_NESTING) return escapeHtml(text);
  const closers = new CloserCache();
  let out = '';
  let plain = '';
  const flush = (): void => {
    out += escapeHtml(plain);
    plain = '';
  };
  let i = 0;
  while (i < text.length) {
    const char = text[i] ?? '';
    if (char === '\\' && i + 1 < text.length && ESCAPABLE.has(text[i + 1] ?? '')) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (char === '`') {
      let run = 1;
      while (text[i + run] === '`') run++;
      const fence = '`'.repeat(run);
      const close = closers.find(fence, i + run, (from) => findCodeSpanEnd(text, from, fence));
      if (close >= 0) {
        flush();
        let code = text.slice(i + run, close).replace(/\n/g, ' ');
        if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim() !== '') code = code.slice(1, -1);
        out += `<code>${escapeHtml(code)}</code>`;
        i = close + run;
        continue;
      }
      plain += fence;
      i += run;
      continue;
    }
    if (char === '[') {
      const link = parseLink(text, i);
      if (link) {
        flush();
        const href = safeLinkUrl(link.url);
        const label = renderInline(link.label, depth + 1);
        out += href === undefined ? `${label} (${escapeHtml(link.url)})` : `<a href="${escapeHtml(href)}" rel="noopener noreferrer">${label}</a>`;
        i = link.end;
        continue;
      }
    }
    if (char === '*' || char === '_') {
      const double = text[i + 1] === char;
      const delimiter = double ? char + char : char;
      const end = canOpenEmphasis(text, i, delimiter) ? closers.find(delimiter, i + delimiter.length, (from) => findEmphasisCloser(text, from, delimiter)) : -1;
      if (end >= 0) {
        flush();
        const inner = renderInline(text.slice(i + delimiter.length, end), depth + 1);
        out += double ? `<strong>${inner}</strong>` : `<em>${inner}</em>`;
        i = end + delimiter.length;
        continue;
      }
      plain += delimiter;
      i += delimiter.length;
      continue;
    }
    if (char === '\n') {
      // Two trailing spaces (or a backslash, handled above as text) make a hard break.
      if (plain.endsWith('  ')) {
        plain = plain.trimEnd();
        flush();
        out += '<br>\n';
      } else {
        plain += '\n';
      }
      i++;
      continue;
    }
    plain += char;
    i++;
  }
  flush();
  return out;
}

function findCodeSpanEnd(text: string, from: number, fence: string): number {
  let at = text.indexOf(fence, from);
  while (at >= 0) {
    // The closing run must be exactly as long as the opening one.
    if (text[at + fence.length] !== '`' && text[at - 1] !== '`') return at;
    while (text[at] === '`') at++;
    at = text.indexOf(fence, at);
  }
  return -1;
}

function canOpenEmphasis(text: string, start: number, delimiter: string): boolean {
  const char = delimiter[0];
  const after = text[start + delimiter.length];
  // An opener must be followed by non-space; `_` must not sit inside a word (snake_case).
  if (after === undefined || /\s/.test(after) || after === char) return false;
  return !(char === '_' && isWordChar(text[start - 1]));
}

function findEmphasisCloser(text: string, from: number, delimiter: string): number {
  const char = delimiter[0];
  let at = text.indexOf(delimiter, from);
  while (at >= 0) {
    const before = text[at - 1];
    const next = text[at + delimiter.length];
    const closes =
      before !== undefined && !/\s/.test(before) && before !== '\\' &&
      // A single `*` must not be half of a `**`; `_` must not sit inside a word.
      (delimiter.length === 2 || (next !== char && text[at - 1] !== char)) &&
      (char !== '_' || !isWordChar(next));
    if (closes) return at;
    at = text.indexOf(delimiter, at + 1);
  }
  return -1;
}

function parseLink(text: string, start: number): { label: string; url: string; end: number } | undefined {
  let depth = 0;
  let i = start;
  // Labels are short; a bound keeps a text full of unmatched `[` linear.
  const limit = Math.min(text.length, start + 1000);
  for (; i < limit; i++) {
    const char = text[i];
    if (char === '\\') {
      i++;
      continue;
    }
    if (char === '[') depth++;
    else if (char === ']' && --depth === 0) break;
    else if (char === '\n' && text[i + 1] === '\n') return undefined;
  }
  if (i >= limit || text[i + 1] !== '(') return undefined;
  const label = text.slice(start + 1, i);
  const urlStart = i + 2;
  const match = /^[ \t]*<?((?:[^\s()<>]|\([^\s()<>]*\))*)>?(?:[ \t]+"[^"\n]*")?[ \t]*\)/.exec(text.slice(urlStart, urlStart + 2048));
  if (!match) return undefined;
  return { label, url: match[1] ?? '', end: urlStart + match[0].length };
}
