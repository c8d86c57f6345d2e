#!/usr/bin/env node
// Runs y-webrtc's own signalling server (node_modules/y-webrtc/bin/server.js, unmodified) bound
// to 127.0.0.1 only, and prints `listening on http://127.0.0.1:PORT` like peer-commons-relay so
// that PORT=0 can be used. Used by the interop test's --reference mode and by bench-relay.
import http from 'node:http'

const listen = http.Server.prototype.listen
http.Server.prototype.listen = function (port, ...rest) {
  this.once('listening', () => console.log(`listening on http://127.0.0.1:${this.address().port}`))
  return listen.call(this, port, '127.0.0.1', ...rest)
}
process.env.PORT = process.env.PORT || '0'
await import('../../node_modules/y-webrtc/bin/server.js')
