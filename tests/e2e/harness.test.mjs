// The harness itself: two browser profiles launched by it can open a WebRTC data channel to each
// other over loopback (the flags and the microphone permission are right), which later multi-peer
// tests build on. Signalling here is done by hand: complete SDP passed through this test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchBrowser, startRelay, watchPage } from './harness.mjs';

/** In the page: a peer connection whose description is complete once ICE gathering ends. */
function definePeer() {
  window.peer = new RTCPeerConnection();
  window.received = new Promise((resolve) => {
    window.peer.ondatachannel = ({ channel }) => { channel.onmessage = (e) => resolve(e.data); };
  });
  window.gathered = () => new Promise((resolve) => {
    if (window.peer.iceGatheringState === 'complete') resolve();
    window.peer.onicegatheringstatechange = () => window.peer.iceGatheringState === 'complete' && resolve();
  });
}

test('two browser profiles open a data channel over loopback', async (t) => {
  const relay = await startRelay();
  t.after(() => relay.stop());
  const pages = [];
  const problems = []; // one list per page, filled as the pages run
  for (let i = 0; i < 2; i++) {
    const browser = await launchBrowser({ origin: relay.origin });
    t.after(() => browser.close());
    const page = await browser.newPage();
    problems.push(watchPage(page));
    await page.goto(relay.url);
    await page.evaluate(definePeer);
    pages.push(page);
  }
  const [alice, bob] = pages;

  const offer = await alice.evaluate(async () => {
    window.channel = window.peer.createDataChannel('hello');
    window.opened = new Promise((resolve) => { window.channel.onopen = resolve; });
    await window.peer.setLocalDescription();
    await window.gathered();
    return window.peer.localDescription.toJSON();
  });
  const answer = await bob.evaluate(async (offer) => {
    await window.peer.setRemoteDescription(offer);
    await window.peer.setLocalDescription();
    await window.gathered();
    return window.peer.localDescription.toJSON();
  }, offer);
  await alice.evaluate(async (answer) => {
    await window.peer.setRemoteDescription(answer);
    await window.opened;
    window.channel.send('hi from alice');
  }, answer);
  assert.equal(await bob.evaluate(() => window.received), 'hi from alice');

  // In the test network namespace loopback is the only interface: no candidate elsewhere.
  const addresses = [...offer.sdp.matchAll(/^a=candidate:\S+ \d+ \S+ \d+ (\S+) /gm)].map((m) => m[1]);
  assert.ok(addresses.length > 0, 'some candidates were gathered');
  assert.ok(addresses.every((a) => a === '127.0.0.1'), `candidates: ${addresses}`);
  assert.deepEqual(problems.flat(), []);
});
