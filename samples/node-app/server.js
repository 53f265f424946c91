// node-app: a small HTTP server for minify's samples. Its one runtime dependency is left-pad; its
// devDependency (is-number) is only used by test.js, so the trace of `node server.js` never opens it
// and the minimal runner must not carry it.
// Listens on 127.0.0.1:$PORT (default 8083), or on $HOST:$PORT when HOST is set.
'use strict';
const http = require('http');
const leftPad = require('left-pad');

const port = Number(process.env.PORT || 8083);
const host = process.env.HOST || '127.0.0.1';

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  if (req.url !== '/') {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`hello from node-app (node ${process.version})\n[${leftPad('42', 8, '0')}]\n`);
});
server.listen(port, host, () => console.log(`node-app listening on ${host}:${port}`));
