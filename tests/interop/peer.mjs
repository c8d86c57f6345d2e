// One y-webrtc peer for the interop test, run as its own Node process (y-webrtc allows one
// provider per room per process). Everything here is y-webrtc's and Yjs's own client code;
// only two things are supplied from outside: a WebSocket for Node (the `ws` package) and a
// WebRTC implementation for Node (@roamhq/wrtc), restricted to loopback candidates.
//
// usage: node peer.mjs SIGNALLING_URL ROOM NAME OTHER [PASSWORD]
// Prints JSON lines on stdout: {"event":"ready"} once its subscription is live on the relay,
// then {"event":"done","text":...,"awareness":[...]} once it has seen every edit of OTHER.
import { WebSocket } from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { WebrtcProvider } from 'y-webrtc'

globalThis.WebSocket = WebSocket

const [url, room, name, other, password] = process.argv.slice(2)
const say = (event, fields = {}) => process.stdout.write(JSON.stringify({ event, name, ...fields }) + '\n')
const fail = (why) => { say('failed', { why }); process.exit(1) }

// ICE candidate lines read "candidate:F C udp PRIO ADDRESS PORT typ ...": keep loopback only, so
// the peers' connectivity checks never leave 127.0.0.1 whatever interfaces the machine has.
const isLoopback = (candidateLine) => candidateLine.split(' ')[4] === '127.0.0.1'
class LoopbackPeerConnection extends wrtc.RTCPeerConnection {
  addIceCandidate (candidate) {
    if (candidate && candidate.candidate && !isLoopback(candidate.candidate)) return Promise.resolve()
    return super.addIceCandidate(candidate)
  }

  setRemoteDescription (description) {
    const sdp = description.sdp
      .split('\r\n')
      .filter(line => !line.startsWith('a=candidate:') || isLoopback(line.slice(2)))
      .join('\r\n')
    return super.setRemoteDescription({ type: description.type, sdp })
  }
}
const loopbackWrtc = { ...wrtc, RTCPeerConnection: LoopbackPeerConnection }

const doc = new Y.Doc()
const text = doc.getText('shared')
const provider = new WebrtcProvider(room, doc, {
  signaling: [url],
  password: password || null,
  // No STUN/TURN servers: loopback host candidates are all the test needs.
  peerOpts: { wrtc: loopbackWrtc, config: { iceServers: [] } }
})
provider.awareness.setLocalStateField('user', { name })

// The relay echoes a publish to its sender too: seeing our own announce come back proves the
// subscription (sent before it on the same connection) is live.
const signalling = provider.signalingConns[0]
const onSignal = (message) => {
  if (message && message.type === 'publish' && message.topic === room) {
    signalling.off('message', onSignal)
    say('ready')
  }
}
signalling.on('message', onSignal)

// First edit before any peer is known; the second once the other's first edit arrived, so
// the second travels as a live update rather than in the initial sync.
text.insert(0, `${name}1;`)
const has = (token) => text.toString().includes(token)
// Awareness reaches us over WebRTC too; remembered once seen, as the other may leave first.
const seenNames = new Set()
provider.awareness.on('change', () => {
  provider.awareness.getStates().forEach(state => {
    if (state.user && state.user.name !== name) seenNames.add(state.user.name)
  })
})

let secondDone = false
const check = () => {
  if (!secondDone && has(`${other}1;`)) {
    secondDone = true
    text.insert(text.length, `${name}2;`)
  }
  if (secondDone && has(`${other}2;`) && seenNames.has(other)) {
    clearInterval(timer)
    say('done', { text: text.toString(), awareness: Array.from(seenNames) })
    provider.destroy()
    // Give the last WebRTC messages a moment to leave before the process goes.
    setTimeout(() => process.exit(0), 300)
  }
}
const timer = setInterval(check, 20)
setTimeout(() => fail(`timed out with text ${JSON.stringify(text.toString())}`), 90000)
