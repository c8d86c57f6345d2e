#!/usr/bin/env node
// Interoperability test: y-webrtc's own client code (the npm package, unmodified) signalling
// through peer-commons-relay. Two Node processes, each a Y.Doc with a y-webrtc WebrtcProvider,
// find each other through the relay (subscribe, publish of announce and WebRTC offer/answer/ICE
// signals, ping), open a real WebRTC data channel (@roamhq/wrtc, loopback candidates only), and
// sync: both documents must converge on the four edits, and each must see the other's awareness.
// Run once in a plain room (signals as JSON) and once with a password (signals encrypted, sent as
// base64 strings), which are y-webrtc's two signalling payload shapes.
//
// usage:
//   node tests/interop/y-webrtc-interop.mjs [--relay-bin target/debug/peer-commons-relay]
//   node tests/interop/y-webrtc-interop.mjs --reference   # the same against y-webrtc's server.js
//     (checks the test itself: y-webrtc's client and server together must pass it too)
// Exits 0 when every round passed; the last line reads "interop: N passed, M failed".
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..', '..')
const args = process.argv.slice(2)
const flag = (name) => args.includes(name)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback
}
const relayBin = path.resolve(root, option('--relay-bin', 'target/debug/peer-commons-relay'))
const reference = flag('--reference')
const ROUND_TIMEOUT_MS = 120000

const children = new Set()
const track = (child) => {
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}
const killAll = () => children.forEach(c => c.kill('SIGKILL'))
process.on('exit', killAll)

/** Resolves with the first stdout line of `child` that `match` accepts. */
const waitForLine = (child, match, what) => new Promise((resolve, reject) => {
  const lines = createInterface({ input: child.stdout })
  const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ROUND_TIMEOUT_MS)
  lines.on('line', line => {
    const found = match(line)
    if (found !== undefined) {
      clearTimeout(timer)
      resolve(found)
    }
  })
  child.on('exit', code => {
    clearTimeout(timer)
    reject(new Error(`${what}: process exited with ${code} first`))
  })
})

/** Starts the signalling server under test; resolves with { url, http, child }. */
async function startServer () {
  if (reference) {
    const child = track(spawn(process.execPath, [path.join(here, 'reference-server.mjs')], {
      env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit']
    }))
    const addr = await waitForLine(child, l => l.match(/^listening on http:\/\/(\S+)$/)?.[1], 'y-webrtc server start')
    return { url: `ws://${addr}`, http: null, child }
  }
  const child = track(spawn(relayBin, ['--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' }
  }))
  const addr = await waitForLine(child, l => l.match(/^listening on http:\/\/(\S+)$/)?.[1], 'relay start')
  return { url: `ws://${addr}/`, http: `http://${addr}`, child }
}

const metric = async (http, series) => {
  const text = await (await fetch(`${http}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith(series + ' '))
  return line ? Number(line.split(' ')[1]) : NaN
}

const startPeer = (url, room, name, other, password) => track(spawn(
  process.execPath, [path.join(here, 'peer.mjs'), url, room, name, other, ...(password ? [password] : [])],
  { stdio: ['ignore', 'pipe', 'inherit'] }
))

const event = (kind) => (line) => {
  try {
    const parsed = JSON.parse(line)
    if (parsed.event === 'failed') throw new Error(`${parsed.name} failed: ${parsed.why}`)
    return parsed.event === kind ? parsed : undefined
  } catch (e) {
    if (e instanceof SyntaxError) return undefined
    throw e
  }
}

async function round (server, label, password) {
  const room = `interop-${label}-${process.pid}-${Date.now()}`
  const before = server.http && {
    in: await metric(server.http, 'peer_commons_relay_messages_in_total'),
    conns: await metric(server.http, 'peer_commons_relay_connections_total')
  }
  // A first, and B only once A's subscription is live: otherwise both may announce before
  // either listens, and y-webrtc (which announces only on connect) would never pair them.
  const a = startPeer(server.url, room, 'A', 'B', password)
  await waitForLine(a, event('ready'), 'peer A ready')
  const b = startPeer(server.url, room, 'B', 'A', password)
  const [doneA, doneB] = await Promise.all([
    waitForLine(a, event('done'), 'peer A done'),
    waitForLine(b, event('done'), 'peer B done')
  ])
  const problems = []
  for (const done of [doneA, doneB]) {
    for (const token of ['A1;', 'A2;', 'B1;', 'B2;']) {
      if (!done.text.includes(token)) problems.push(`${done.name} lacks ${token}`)
    }
  }
  if (doneA.text !== doneB.text) problems.push(`documents differ: ${JSON.stringify(doneA.text)} vs ${JSON.stringify(doneB.text)}`)
  if (!doneA.awareness.includes('B') || !doneB.awareness.includes('A')) problems.push('awareness not exchanged')
  if (server.http) {
    const inc = await metric(server.http, 'peer_commons_relay_messages_in_total') - before.in
    const conns = await metric(server.http, 'peer_commons_relay_connections_total') - before.conns
    // Subscribe + announce each, then an offer, an answer and ICE candidates between them.
    if (!(inc >= 6)) problems.push(`relay saw only ${inc} messages`)
    if (conns !== 2) problems.push(`relay saw ${conns} connections, expected 2`)
    server.signals = inc
  }
  if (problems.length) throw new Error(problems.join('; '))
  const via = server.http ? `, ${server.signals} signalling messages through the relay` : ''
  return `${JSON.stringify(doneA.text)}${via}`
}

async function stopServer (server) {
  const exited = new Promise(resolve => server.child.on('exit', (code, signal) => resolve({ code, signal })))
  server.child.kill('SIGTERM')
  const { code, signal } = await exited
  // y-webrtc's server does not handle SIGTERM; ours must exit cleanly.
  if (!reference && code !== 0) throw new Error(`relay exited with ${code ?? signal} on SIGTERM`)
}

let passed = 0
let failed = 0
const server = await startServer()
console.log(`signalling server: ${reference ? "y-webrtc's bin/server.js" : relayBin} at ${server.url}`)
for (const [label, password] of [['plain', null], ['encrypted', 'interop-secret']]) {
  try {
    const summary = await round(server, label, password)
    console.log(`ok - ${label} room: both documents converged on ${summary}`)
    passed++
  } catch (e) {
    console.log(`not ok - ${label} room: ${e.message}`)
    failed++
  }
}
try {
  await stopServer(server)
  console.log('ok - server stopped on SIGTERM')
  passed++
} catch (e) {
  console.log(`not ok - ${e.message}`)
  failed++
}
killAll()
console.log(`interop: ${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
