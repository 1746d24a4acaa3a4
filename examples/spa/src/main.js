// A single-page app with a small History-API router. kiln serves index.html for every page
// (--spa-fallback), so a deep link such as /books/2 reaches this router, which shows the page.
import './style.css';

const app = document.getElementById('app');

// Builds an element; strings become text nodes, so that data from the API is never parsed as HTML.
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

function link(href, text) {
  return h('a', { href, 'data-link': '' }, text);
}

function show(title, ...content) {
  document.title = `${title} · kiln books`;
  app.replaceChildren(h('h1', {}, title), ...content);
}

// Fetches JSON from the API; null when it answers 404.
async function fetch_json(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

async function home_page() {
  show('Books', h('p', {}, 'Loading…'));
  const books = await fetch_json('/api/books');
  const items = books.map((book) =>
    h('li', {}, link(`/books/${encodeURIComponent(book.id)}`, book.title)),
  );
  show('Books', h('ul', { id: 'books' }, ...items));
}

async function book_page(id) {
  show('Book', h('p', {}, 'Loading…'));
  const book = await fetch_json(`/api/books/${encodeURIComponent(id)}`);
  if (book === null) {
    show('Book not found', h('p', {}, 'There is no book ', h('code', {}, id), '.'), link('/', 'All books'));
    return;
  }
  show(
    book.title,
    h('p', { class: 'author' }, `by ${book.author}`),
    link('/', 'All books'),
  );
}

function about_page() {
  show(
    'About',
    h('p', {}, 'A single-page app and a C++ API, served from one kiln binary.'),
  );
}

function not_found_page() {
  show('Page not found', link('/', 'All books'));
}

// Routes: a pattern of literal segments and :parameters, and the page that shows it.
const routes = [
  ['/', home_page],
  ['/books/:id', book_page],
  ['/about', about_page],
];

function match(pattern, path) {
  const expected = pattern.split('/');
  const actual = path.split('/');
  if (expected.length !== actual.length) return null;
  const parameters = [];
  for (let i = 0; i < expected.length; i++) {
    if (expected[i].startsWith(':') && actual[i] !== '') {
      parameters.push(decodeURIComponent(actual[i]));
    } else if (expected[i] !== actual[i]) {
      return null;
    }
  }
  return parameters;
}

async function render() {
  const path = window.location.pathname;
  for (const [pattern, page] of routes) {
    const parameters = match(pattern, path);
    if (parameters === null) continue;
    try {
      await page(...parameters);
    } catch (error) {
      show('Something went wrong', h('p', { class: 'error' }, String(error.message)));
    }
    return;
  }
  not_found_page();
}

// Links marked data-link change the page without a reload.
document.addEventListener('click', (event) => {
  const anchor = event.target.closest('a[data-link]');
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  if (anchor.pathname !== window.location.pathname) {
    window.history.pushState({}, '', anchor.pathname);
    render();
  }
});
window.addEventListener('popstate', render);
render();
