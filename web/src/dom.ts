// Small DOM helpers. User content always goes in as text, never as HTML.

/** Creates an element with a class and text content. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

/** Looks up an element of index.html by id. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`missing #${id}`);
  return e as T;
}

let messageTimer = 0;

/** Shows a short message in the workbench's bar. */
export function say(text: string): void {
  const m = document.getElementById('message');
  if (!m) return;
  m.textContent = text;
  clearTimeout(messageTimer);
  messageTimer = window.setTimeout(() => { m.textContent = ''; }, 6000);
}

const allowedTags = new Set(['P', 'PRE', 'CODE', 'EM', 'STRONG', 'B', 'I', 'UL', 'OL', 'LI', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'BR', 'HR', 'SPAN', 'DIV', 'BLOCKQUOTE', 'A', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TD', 'TH']);

/**
 * Sanitizes the HTML that the LSP client renders from the server's Markdown
 * (hover and completion docs): only plain formatting elements survive, with
 * no attributes but CodeMirror's highlighting classes; links lose their
 * targets.
 */
export function sanitizeHTML(html: string): string {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, 'text/html');
  const walk = (node: Element) => {
    for (const child of Array.from(node.children)) {
      if (!allowedTags.has(child.tagName)) {
        child.replaceWith(document.createTextNode(child.textContent ?? ''));
        continue;
      }
      for (const attr of Array.from(child.attributes)) {
        if (attr.name !== 'class' || child.tagName !== 'SPAN') child.removeAttribute(attr.name);
      }
      walk(child);
    }
  };
  walk(doc.body);
  return doc.body.innerHTML;
}
