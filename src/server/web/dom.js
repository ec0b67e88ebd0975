// SPDX-License-Identifier: Apache-2.0
//
// Small DOM helpers. Everything the server sends is put into the page as text (textContent,
// text nodes, attribute values), never parsed as HTML: a user name or a log line cannot
// inject markup or script.

// Properties set as DOM properties rather than attributes.
const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'required']);

// h('tr', {class: 'x', onclick: fn, dataset: {id}}, child, 'text', [more children])
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') {
      el.className = value;
    } else if (name === 'text') {
      el.textContent = value;
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name.startsWith('on')) {
      el.addEventListener(name.slice(2), value);
    } else if (PROPERTIES.has(name)) {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));  // strings become text nodes
  }
}

// A table of `rows`; columns: [{title, cell: row => node|string, class}]. `rowProps(row)`
// gives a row's attributes (dataset, class).
export function table(rows, columns, {empty = 'Nothing to show.', rowProps} = {}) {
  if (rows.length === 0) return h('p', {class: 'empty muted'}, empty);
  return h('div', {class: 'table-wrap'},
    h('table', {},
      h('thead', {}, h('tr', {}, columns.map(c => h('th', {class: c.class}, c.title)))),
      h('tbody', {}, rows.map(row => h('tr', rowProps ? rowProps(row) : {},
        columns.map(c => h('td', {class: c.class}, c.cell(row))))))));
}

// A definition list of [term, value] pairs.
export function facts(pairs) {
  return h('dl', {class: 'facts'},
           pairs.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

// A titled card; its title also names it for assistive technology (and tests).
export function card(title, ...content) {
  return h('section', {class: 'card', 'aria-label': title}, h('h2', {}, title), content);
}

export function badge(text, kind) {
  return h('span', {class: `badge ${kind ?? ''}`}, text);
}

// An error where the data would have been.
export function errorBox(error) {
  return h('p', {class: 'error', role: 'alert'}, error.message ?? String(error));
}

export function pageHead(title, ...actions) {
  return h('div', {class: 'page-head'}, h('h1', {}, title), h('div', {class: 'actions'}, actions));
}

export function button(label, onclick, kind) {
  return h('button', {type: 'button', class: kind, onclick}, label);
}

// --- the notice line under the navigation bar ---

let noticeTimer = 0;

// Shows `message`; 'ok' notices go away by themselves, errors stay until dismissed.
export function notify(message, kind = 'ok') {
  const box = document.getElementById('notice');
  document.getElementById('notice-text').textContent = message;
  box.className = kind;
  box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  box.hidden = false;
  clearTimeout(noticeTimer);
  if (kind === 'ok') noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

export function clearNotice() {
  clearTimeout(noticeTimer);
  document.getElementById('notice').hidden = true;
}

// Shows an API failure, except an expired session (the sign-in form says so).
export function reportError(error) {
  if (error?.expired) return;
  notify(error?.message ?? String(error), 'error');
}

// --- dialogs ---

// A modal form. `fields` are nodes inside the form; `submit(form)` runs on submission and may
// throw: its message is shown in the dialog, which stays open. Resolves to the value
// `submit` returned, or undefined when cancelled.
export function dialog({title, fields = [], submitLabel = 'Save', danger = false, submit}) {
  return new Promise(resolve => {
    const error = h('p', {class: 'error', role: 'alert', hidden: true});
    const ok = h('button', {type: 'submit', class: danger ? 'danger' : undefined}, submitLabel);
    const cancel = h('button', {type: 'button', class: 'secondary'}, 'Cancel');
    const form = h('form', {class: 'dialog-form'}, h('h2', {}, title), fields, error,
                   h('div', {class: 'dialog-actions'}, cancel, ok));
    const dlg = h('dialog', {}, form);
    let result;
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    form.addEventListener('submit', async event => {
      event.preventDefault();
      error.hidden = true;
      ok.disabled = true;
      try {
        result = (await submit(form)) ?? true;
        dlg.close();
      } catch (e) {
        if (e?.expired) {
          dlg.close();
          return;
        }
        error.textContent = e?.message ?? String(e);
        error.hidden = false;
      } finally {
        ok.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// Asks before `action()` runs; its failure is shown in the dialog.
export function confirmAction({title, message, label, action}) {
  return dialog({title, fields: [h('p', {}, message)], submitLabel: label, danger: true,
                 submit: action});
}

// A read-only modal (a job's log).
export function viewer(title, ...content) {
  const close = h('button', {type: 'button'}, 'Close');
  const dlg = h('dialog', {class: 'wide'},
                h('div', {class: 'dialog-form'}, h('h2', {}, title), content,
                  h('div', {class: 'dialog-actions'}, close)));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// A labelled input: field('Username', {name: 'user', required: true}).
export function field(label, props = {}, hint) {
  return h('label', {}, label, h('input', props), hint ? h('small', {class: 'muted'}, hint) : null);
}

export function checkbox(label, props = {}) {
  return h('label', {class: 'check'}, h('input', {type: 'checkbox', ...props}), label);
}

export function select(label, props, options) {
  return h('label', {}, label,
           h('select', props, options.map(([value, text]) => h('option', {value}, text))));
}
