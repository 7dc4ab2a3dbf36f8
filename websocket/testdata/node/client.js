'use strict';
// A Node `ws` client for tornago's permessage-deflate interop test
// (websocket/node_interop_test.go).
//
// Usage: node client.js URL
//
// Connects with `new WebSocket(URL)` as it comes: perMessageDeflate on, so
// the offer is "permessage-deflate; client_max_window_bits"; ws compresses
// every message, or with client_no_context_takeover those of 1024 bytes
// and more. It sends every message of messages()
// and checks that each comes back intact with its type; then streams one
// compressed message in three fragments with a ping between the first two
// and checks its echo and the pong; then closes with 1000. Prints one JSON
// object on stdout (extensions is ws's list of agreed extension names,
// answer the server's Sec-WebSocket-Extensions); any mismatch exits with status 1 and a message on
// stderr.

const WebSocket = require('ws');

// rng returns a deterministic generator of 32-bit integers (xorshift32).
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const WORDS = ['hello', 'world', 'room', 'typing', 'online', 'tornago',
  'message', 'status', 'ok', 'lunch', 'h\u00e9llo', '\u20acuro', '\u{1F600}'];

// chat returns about n bytes of chat-like JSON lines as a string whose UTF-8
// encoding is exactly n bytes (a character cut at the end becomes spaces).
function chat(n, seed) {
  const next = rng(seed);
  const pick = () => WORDS[next() % WORDS.length];
  const lines = [];
  let size = 0;
  while (size < n) {
    const line = JSON.stringify({
      type: pick(), room: `r${next() % 20}`, user: `u${next() % 500}`,
      text: `${pick()} ${pick()}`, ts: 1700000000 + (next() % 1000000),
    }) + '\n';
    lines.push(line);
    size += Buffer.byteLength(line);
  }
  const buf = Buffer.from(lines.join('')).subarray(0, n);
  let text = buf.toString('utf8');
  // A cut character decodes as U+FFFD; drop it and pad to n bytes.
  text = text.replace(/\uFFFD+$/, '');
  return text + ' '.repeat(n - Buffer.byteLength(text));
}

// random returns n pseudo-random bytes: incompressible.
function random(n, seed) {
  const next = rng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

// messages mixes text and binary, compressible and not, empty, under and
// over ws's 1024-byte threshold, up to 1 MiB, with repeats for context takeover.
function messages() {
  return [
    '', Buffer.alloc(0), 'x', chat(1023, 1), chat(1024, 2), chat(1025, 3),
    chat(3000, 4), chat(3000, 5), chat(3000, 4),
    Buffer.from(chat(8000, 6)), random(8000, 7),
    chat(65536, 8), random(65536, 9),
    chat(40000, 10), Buffer.from(chat(40000, 10)),
    chat(1 << 20, 11), random(1 << 20, 12),
    chat(4096, 13),
  ];
}

function fail(msg) {
  process.stderr.write(msg + '\n');
  process.exit(1);
}

function same(want, got, isBinary) {
  if (typeof want === 'string') {
    return !isBinary && got.toString('utf8') === want;
  }
  return isBinary && Buffer.compare(want, got) === 0;
}

async function main() {
  const url = process.argv[2];
  if (!url) fail('usage: node client.js URL');
  const ws = new WebSocket(url);
  const queue = [];
  let waiter = null;
  let pongs = 0;
  let answer = null;
  ws.on('upgrade', (res) => { answer = res.headers['sec-websocket-extensions']; });
  ws.on('message', (data, isBinary) => {
    queue.push({ data, isBinary });
    if (waiter) waiter();
  });
  ws.on('pong', () => { pongs++; });
  ws.on('error', (err) => fail(`ws error: ${err.message}`));
  await new Promise((resolve) => ws.once('open', resolve));

  const next = () => new Promise((resolve) => {
    const take = () => { waiter = null; resolve(queue.shift()); };
    if (queue.length) take(); else waiter = take;
  });

  let echoed = 0;
  for (const [i, msg] of messages().entries()) {
    ws.send(msg);
    const got = await next();
    if (!same(msg, got.data, got.isBinary)) {
      fail(`message ${i} (${typeof msg}, ${Buffer.byteLength(msg)} bytes): echo differs (${got.data.length} bytes, binary ${got.isBinary})`);
    }
    echoed++;
  }

  // One compressed message streamed in fragments with a ping between.
  const parts = [chat(20000, 20), chat(20000, 21), chat(5000, 22)];
  ws.send(parts[0], { fin: false, compress: true });
  ws.ping('between');
  ws.send(parts[1], { fin: false, compress: true });
  ws.send(parts[2], { fin: true, compress: true });
  const got = await next();
  const fragmentedOK = same(parts.join(''), got.data, got.isBinary);

  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  ws.close(1000, 'node-done');
  const closeCode = await closed;
  process.stdout.write(JSON.stringify({
    echoed, extensions: ws.extensions, answer, fragmented_ok: fragmentedOK, pongs,
    close_code: closeCode,
  }) + '\n');
}

main().catch((err) => fail(err.stack || String(err)));
