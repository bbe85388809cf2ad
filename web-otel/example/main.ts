// The example app: a router on the history API (and #/ hash routes), fetch and XHR calls (one slow,
// one that never answers), a data-action button and an uncaught error, with web-otel set up in one
// call. The browser test serves it (`?batchDelayMs=` and `?maxBatchSize=` let the test hold spans
// back until the page is hidden or closed).
import { initObservability, metrics, type RouteMatcher } from '../src/index.js';

const routes = ['/', '/menu/:category', '/orders/:id'];

/** Like React Router's matchRoutes: the first template whose segments fit the path. */
const matchRoute: RouteMatcher = (pathname) =>
  routes.find((template) => {
    const want = template.split('/');
    const got = pathname.split('/');
    return want.length === got.length && want.every((part, i) => part.startsWith(':') || part === got[i]);
  });

const params = new URLSearchParams(location.search);
const observability = initObservability({
  serviceName: 'example-web',
  serviceVersion: '1.0.0',
  environment: 'test',
  matchRoute,
  batchDelayMs: Number(params.get('batchDelayMs')) || undefined,
  maxBatchSize: Number(params.get('maxBatchSize')) || undefined,
  // eslint-disable-next-line no-console -- the example shows the library's own problems in the console
  debug: params.has('debug') ? (message, error) => console.warn('web-otel:', message, error) : undefined,
});
Object.assign(window, { observability, metrics });

const view = document.getElementById('view') as HTMLElement;
const log = document.getElementById('log') as HTMLElement;

function render(): void {
  view.textContent = `You are on ${location.pathname}${location.hash} (${observability.page()})`;
}

document.addEventListener('click', (e) => {
  const link = (e.target as Element).closest('a[data-link]');
  if (!link) return;
  e.preventDefault();
  history.pushState(null, '', link.getAttribute('href'));
  render();
});
addEventListener('popstate', render);
addEventListener('hashchange', render);
render();

const say = (text: string): void => {
  log.textContent += `${text}\n`;
};

document.getElementById('load-menu')?.addEventListener('click', () => {
  void fetch('/api/menu?category=pizza').then((r) => say(`menu: ${r.status}`));
});
document.getElementById('load-broken')?.addEventListener('click', () => {
  void fetch('/api/broken').then((r) => say(`broken: ${r.status}`));
});
document.getElementById('slow')?.addEventListener('click', () => {
  void fetch('/api/slow?ms=3000').then((r) => say(`slow: ${r.status}`));
});
document.getElementById('hang')?.addEventListener('click', () => {
  void fetch('/api/hang').then((r) => say(`hang: ${r.status}`));
});
document.getElementById('xhr-order')?.addEventListener('click', () => {
  // A query string with a customer's address and a token: none of it may leave the browser.
  const xhr = new XMLHttpRequest();
  xhr.open('GET', '/api/orders/42?email=bob%40example.com&token=s3cr3t');
  xhr.onload = () => say(`order: ${xhr.status}`);
  xhr.send();
});
document.getElementById('add')?.addEventListener('click', () => {
  // A slow handler, as a real cart update can be: the interaction is long enough to be an INP candidate.
  const until = performance.now() + 80;
  while (performance.now() < until) {
    // busy
  }
  say('added');
});
document.getElementById('crash')?.addEventListener('click', () => {
  setTimeout(() => {
    throw new TypeError('the example crashed on purpose');
  });
});

// A late banner pushes the page down: a layout shift for CLS.
setTimeout(() => {
  const banner = document.createElement('div');
  banner.style.height = '120px';
  banner.textContent = 'Free delivery today!';
  document.getElementById('banner-slot')?.appendChild(banner);
}, 300);
