import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MARKDOWN_MAX_CHARS, escapeHtml, markdownToHtml, safeLinkUrl } from '../../src/alerting/markdown-html.js';

/** Every tag the renderer may emit; anything else in the output is an injection that got through. */
const ALLOWED_TAGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'strong', 'em', 'code', 'pre', 'ul', 'ol', 'li', 'a', 'blockquote', 'hr', 'br', 'table', 'thead', 'tbody', 'tr', 'th', 'td']);

function assertOnlyAllowedTags(html: string): void {
  for (const match of html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)) {
    const tag = (match[1] ?? '').toLowerCase();
    assert.ok(ALLOWED_TAGS.has(tag), `unexpected tag <${tag}> in ${html}`);
    const attributes = match[2] ?? '';
    // Attributes only the renderer writes itself.
    for (const attribute of attributes.matchAll(/\s([a-z-]+)=/g)) {
      assert.ok(['href', 'rel', 'class', 'start', 'style'].includes(attribute[1] ?? ''), `unexpected attribute ${attribute[1]} in ${match[0]}`);
    }
    assert.doesNotMatch(attributes, /\son[a-z]+=/i);
  }
}

test('headings, paragraphs, bold, italic and inline code', () => {
  const html = markdownToHtml('# Title\n## Severity: **High**\n\nA *SYN* flood from `10.0.0.1`\nover __two__ lines.\n\nSecond _para_.');
  assert.equal(
    html,
    '<h1>Title</h1>\n<h2>Severity: <strong>High</strong></h2>\n<p>A <em>SYN</em> flood from <code>10.0.0.1</code>\nover <strong>two</strong> lines.</p>\n<p>Second <em>para</em>.</p>',
  );
});

test('snake_case identifiers and lone asterisks stay text', () => {
  assert.equal(markdownToHtml('metric heavy_hitter_count and super_spreader_spread'), '<p>metric heavy_hitter_count and super_spreader_spread</p>');
  assert.equal(markdownToHtml('3 * 4 = 12 and 2*'), '<p>3 * 4 = 12 and 2*</p>');
  assert.equal(markdownToHtml('\\*not italic\\*'), '<p>*not italic*</p>');
});

test('fenced code blocks keep their text verbatim and escaped', () => {
  const html = markdownToHtml('```bash\niptables -A INPUT -s 10.0.0.1 -j DROP\necho "<b>" && **x**\n```\nafter');
  assert.equal(html, '<pre><code class="language-bash">iptables -A INPUT -s 10.0.0.1 -j DROP\necho &quot;&lt;b&gt;&quot; &amp;&amp; **x**</code></pre>\n<p>after</p>');
  // A language tag that could break out of the class attribute is dropped.
  assert.equal(markdownToHtml('```x"onload="y\ncode\n```'), '<pre><code>code</code></pre>');
  // An unterminated fence runs to the end rather than swallowing nothing.
  assert.equal(markdownToHtml('~~~\n<script>'), '<pre><code>&lt;script&gt;</code></pre>');
});

test('bullet and numbered lists, nested by indentation, with continuation lines', () => {
  const html = markdownToHtml('Steps:\n\n1. Block **10.0.0.1**\n2. Rate-limit\n   SYN packets\n   - enable SYN cookies\n   - lower the backlog\n3. Watch\n\n- a\n* b\n\nend');
  assert.equal(
    html,
    '<p>Steps:</p>\n<ol>\n<li>Block <strong>10.0.0.1</strong></li>\n<li>Rate-limit\nSYN packets\n<ul>\n<li>enable SYN cookies</li>\n<li>lower the backlog</li>\n</ul></li>\n<li>Watch</li>\n</ol>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n<p>end</p>',
  );
  assert.equal(markdownToHtml('3. third\n4. fourth'), '<ol start="3">\n<li>third</li>\n<li>fourth</li>\n</ol>');
});

test('links only for http and https URLs', () => {
  assert.equal(
    markdownToHtml('See [RFC 4987](https://www.rfc-editor.org/rfc/rfc4987) now.'),
    '<p>See <a href="https://www.rfc-editor.org/rfc/rfc4987" rel="noopener noreferrer">RFC 4987</a> now.</p>',
  );
  for (const url of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html;base64,PHNjcmlwdD4=', 'vbscript:x', 'file:///etc/passwd', '//evil.example/x', 'relative/path']) {
    const html = markdownToHtml(`[click](${url})`);
    assert.doesNotMatch(html, /<a /, `${url} became a link: ${html}`);
    assert.match(html, /^<p>click \(/);
  }
});

test('injection strings come out escaped, never as markup', () => {
  const attacks = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '**<iframe src="https://evil">**',
    '[x](https://ok.example/"onmouseover="alert(1))',
    '[<svg onload=alert(1)>](https://ok.example)',
    '`</code><script>x</script>`',
    '# <h1 onclick=x>',
    '| <b>a</b> | b |\n|---|---|\n| <script> | "q" |',
    '> <style>body{}</style>',
    '- <a href="javascript:x">y</a>',
    '```\n</pre><script>x</script>\n```',
    "' \" & < >",
    '<!-- comment --> <![CDATA[x]]>',
  ];
  for (const attack of attacks) {
    const html = markdownToHtml(attack);
    assertOnlyAllowedTags(html);
    assert.doesNotMatch(html, /<script|<img|<iframe|<svg|<style|<b>|<!--/i, `${attack} → ${html}`);
  }
  assert.equal(markdownToHtml("' \" & < >"), '<p>&#39; &quot; &amp; &lt; &gt;</p>');
  // A quote in a URL cannot close the href attribute.
  const link = markdownToHtml('[x](https://ok.example/a"b)');
  assert.match(link, /href="https:\/\/ok\.example\/a%22b"/);
});

test('tables with alignment, and block quotes', () => {
  const html = markdownToHtml('| Flow | Packets |\n|:---|---:|\n| 10.0.0.1 | **9000** |\n| a \\| b |\n\n> quoted *text*');
  assert.equal(
    html,
    '<table><thead><tr><th style="text-align:left">Flow</th><th style="text-align:right">Packets</th></tr></thead>' +
      '<tbody><tr><td style="text-align:left">10.0.0.1</td><td style="text-align:right"><strong>9000</strong></td></tr>' +
      '<tr><td style="text-align:left">a | b</td><td style="text-align:right"></td></tr></tbody></table>\n' +
      '<blockquote>\n<p>quoted <em>text</em></p>\n</blockquote>',
  );
  assert.equal(markdownToHtml('---'), '<hr>');
});

test('pathological inputs render in linear-ish time and huge ones are cut', () => {
  const started = performance.now();
  markdownToHtml('*a '.repeat(60_000));
  markdownToHtml('['.repeat(100_000));
  markdownToHtml('`a ``'.repeat(30_000));
  markdownToHtml('- x\n'.repeat(20_000));
  markdownToHtml('>'.repeat(10_000) + ' deep');
  assert.ok(performance.now() - started < 3000, 'rendering took too long');
  const huge = markdownToHtml('x'.repeat(MARKDOWN_MAX_CHARS + 10));
  assert.match(huge, /\[analysis truncated\]/);
});

test('helpers: escapeHtml and safeLinkUrl', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.equal(safeLinkUrl(' https://example.com/a b '), 'https://example.com/a%20b');
  assert.equal(safeLinkUrl('javascript:alert(1)'), undefined);
  assert.equal(safeLinkUrl('not a url'), undefined);
});
