// A portal that embeds ideserver in an iframe and talks to it with
// postMessage. The IDE must list this page's origin in allowed_origins
// (which also puts it in the IDE's CSP frame-ancestors). Both sides check
// event.origin and always name the target origin.
const params = new URLSearchParams(location.search);
const ide = new URL(params.get('ide') || 'http://127.0.0.1:8080');
const ideOrigin = ide.origin;
const page = params.get('page') || '/embed/play';

const frame = document.getElementById('ide');
const log = document.getElementById('log');
document.getElementById('ide-url').textContent = ideOrigin;

function append(line) {
  log.append(document.createTextNode(line + '\n')); // text only, never HTML
  log.scrollTop = log.scrollHeight;
}

// The IDE posts to the origin it is given here (when that origin is allowed).
frame.src = `${ideOrigin}${page}?origin=${encodeURIComponent(location.origin)}`;

function send(msg) {
  frame.contentWindow.postMessage(msg, ideOrigin);
}

window.addEventListener('message', (event) => {
  if (event.origin !== ideOrigin || event.source !== frame.contentWindow) return; // not our IDE
  const m = event.data;
  if (!m || m.source !== 'ideserver') return;
  switch (m.type) {
    case 'ready':
      append(`ready (${m.page})`);
      document.getElementById('run').disabled = false;
      document.getElementById('open').disabled = false;
      break;
    case 'output':
      append(`output ${m.kind}: ${m.body}`);
      break;
    default:
      append(`${m.type} ${JSON.stringify(m)}`);
  }
});

document.getElementById('run').addEventListener('click', () => send({ type: 'run' }));
document.getElementById('open').addEventListener('click', () => send({ type: 'open', path: document.getElementById('path').value }));
