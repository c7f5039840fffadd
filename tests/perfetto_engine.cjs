'use strict';
// Perfetto's trace processor, the wasm engine its UI runs in a web worker, run
// under node as a byte pipe: TraceProcessorRpc bytes in on stdin, replies out on
// stdout (tests/perfetto.py speaks the protocol). Usage: node perfetto_engine.cjs DIR
// where DIR holds the UI build's engine_bundle.js and trace_processor.wasm.
//
// The bundle is built for browsers only, so it is shown a worker's world: `self`,
// `WorkerGlobalScope`, `location`, a synchronous XMLHttpRequest that reads the
// wasm from DIR, and no `process` while its environment check runs. It then sets
// self.onmessage, which takes the MessagePort the UI would hand it.
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const dir = process.argv[2];
const stdout = process.stdout;
const stdin = process.stdin;
const exit = process.exit.bind(process);
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
const read = (url) => fs.readFileSync(path.join(dir, path.basename(String(url))));

console.log = console.warn = console.info = console.debug = log; // stdout carries the replies
globalThis.self = globalThis;
globalThis.WorkerGlobalScope = function WorkerGlobalScope() {};
globalThis.location = { href: 'file:///engine/engine_bundle.js', protocol: 'file:', host: '' };
globalThis.XMLHttpRequest = class {
  open(_method, url) { this.url = url; }
  send() {
    const b = read(this.url);
    this.response = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    this.status = 200;
  }
};

const saved = Object.getOwnPropertyDescriptor(globalThis, 'process');
Object.defineProperty(globalThis, 'process', { value: undefined, configurable: true, writable: true });
try {
  vm.runInThisContext(read('engine_bundle.js').toString('utf8'), { filename: 'engine_bundle.js' });
} finally {
  Object.defineProperty(globalThis, 'process', saved);
}

const { port1, port2 } = new MessageChannel();
self.onmessage({ data: port1 });
port2.onmessage = (e) => { stdout.write(Buffer.from(e.data)); };
stdin.on('data', (chunk) => port2.postMessage(new Uint8Array(chunk)));
// The client closes stdin once it has every reply it wanted.
stdin.on('end', () => setTimeout(() => exit(0), 50));
