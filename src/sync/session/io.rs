//! The session's input handling, message dispatch, timers and output.

use super::super::auth::{verify, AuthError, HelloFields};
use super::super::wire::{to_change_ids, to_peer_ids, Bytes, CloseReason, Hello, Message};
use super::super::PROTOCOL_VERSION;
use super::recon::{respond, Active, Limits, Step};
use super::*;

impl Session {
    /// Feeds one input at time `now` (ms on the shell's monotonic clock).
    pub fn handle_input(&mut self, now: u64, input: Input<'_>, view: View<'_>) {
        self.now = self.now.max(now);
        match input {
            Input::Receive(chunk) => self.on_chunk(chunk, view),
            Input::Buffered(amount) => self.in_flight = amount,
            Input::Timeout => {}
        }
        self.run_timers(view);
    }

    /// The next thing to do. Call until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self, view: View<'_>) -> Output {
        if self.state == State::Closed {
            // Flush the close message, then report.
            if let Some(chunk) = self.outbox.next_chunk() {
                return self.transmit(chunk);
            }
            return match self.events.pop_front() {
                Some(e) => Output::Event(e),
                None => Output::Timeout(u64::MAX),
            };
        }
        if let Some(e) = self.events.pop_front() {
            return Output::Event(e);
        }
        if self.in_flight < self.cfg.max_in_flight {
            self.fill(view);
            if let Some(chunk) = self.outbox.next_chunk() {
                return self.transmit(chunk);
            }
        }
        Output::Timeout(self.next_deadline())
    }

    fn transmit(&mut self, chunk: Vec<u8>) -> Output {
        self.in_flight += chunk.len();
        self.stats.bytes_sent += chunk.len() as u64;
        Output::Transmit(chunk)
    }

    /// Turns queued work into messages while the outbox has no bulk message waiting.
    fn fill(&mut self, view: View<'_>) {
        if self.state != State::Open {
            return;
        }
        if !self.wants.queued.is_empty() {
            let ids: Vec<[u8; 32]> = self
                .wants
                .next_batch(self.cfg.want_batch)
                .iter()
                .map(|id| id.0)
                .collect();
            if !ids.is_empty() {
                self.send(&Message::Want { ids, graft: false }, Priority::Control);
                if self.wants.deadline.is_none() {
                    self.wants.deadline = Some(self.now + self.backoff(self.wants.attempt));
                }
            }
        }
        if self.outbox.has_bulk() {
            return;
        }
        let budget = self.outbox.payload_per_chunk();
        if let Some((msg, count)) = self.out.next_message(view, budget) {
            self.stats.changes_sent += count as u64;
            self.outbox.push(msg, Priority::Bulk);
        } else if self.out.is_idle() {
            if let Some(recon) = self.out.done_after.take() {
                self.send(&Message::Done(recon), Priority::Bulk);
            }
        }
    }

    fn on_chunk(&mut self, chunk: &[u8], view: View<'_>) {
        if self.state == State::Closed {
            return;
        }
        self.stats.bytes_received += chunk.len() as u64;
        match self.reasm.push(self.now, chunk) {
            Err(e) => self.fail(CloseReason::Malformed, e.to_string()),
            Ok(None) => self.last_recv = self.now,
            Ok(Some(msg)) => {
                self.last_recv = self.now;
                self.stats.messages_received += 1;
                if self.over_rate() {
                    return;
                }
                self.on_message(&msg, view);
            }
        }
    }

    /// Counts a message against the per-second bound; true when it is over (drop it).
    fn over_rate(&mut self) -> bool {
        let (start, count) = &mut self.rate;
        if self.now >= *start + 1000 {
            *start = self.now;
            *count = 0;
        }
        *count = count.saturating_add(1);
        let excess = count.saturating_sub(self.cfg.max_messages_per_sec);
        if excess % 100 == 1 {
            self.events.push_back(Event::Offence(Offence::Flood));
        }
        excess > 0
    }

    fn on_message(&mut self, bytes: &[u8], view: View<'_>) {
        let msg = match Message::decode(bytes) {
            Err(e) => return self.fail(CloseReason::Malformed, e.to_string()),
            Ok(None) => {
                self.events
                    .push_back(Event::Offence(Offence::UnknownMessage));
                return;
            }
            Ok(Some(msg)) => msg,
        };
        match msg {
            Message::Hello(h) => return self.on_hello(h),
            Message::ForeignHello(version) => return self.on_foreign_hello(version),
            Message::Close { reason, detail } => {
                self.outbox.clear();
                self.out.clear();
                self.state = State::Closed;
                self.events.push_back(Event::Closed {
                    reason,
                    by_peer: true,
                    detail: detail.to_string(),
                });
                return;
            }
            // Anything else before the handshake is a reordered or early message: skip it.
            _ if self.state != State::Open => return,
            _ => {}
        }
        // The peer only sends these after receiving our hello.
        self.hello.they_have_ours = true;
        self.on_open_message(msg, view);
    }

    fn on_open_message(&mut self, msg: Message<'_>, view: View<'_>) {
        match msg {
            Message::Ping(n) => self.send(&Message::Pong(n), Priority::Control),
            Message::Pong(sent) if sent <= self.now => self.sample_rtt(self.now - sent),
            Message::Query {
                recon,
                round,
                payload,
            } => self.on_query(recon, round, payload.0, view),
            Message::Reply {
                recon,
                round,
                payload,
            } => self.on_reply(recon, round, payload.0, view),
            Message::Done(_) => self.events.push_back(Event::Synced {
                sent: 0,
                received: 0,
            }),
            Message::Want { ids, graft } => {
                if graft {
                    let room = self
                        .cfg
                        .max_push_queue
                        .saturating_sub(self.out.urgent.len());
                    let known: Vec<ChangeId> = to_change_ids(&ids)
                        .into_iter()
                        .filter(|id| view.index.contains(id))
                        .take(room)
                        .collect();
                    self.out.urgent.extend(known.iter().copied());
                    self.events.push_back(Event::Graft(known));
                } else {
                    let wanted = view.index.with_depths(to_change_ids(&ids));
                    self.out.deliver.extend(wanted);
                }
            }
            Message::Push(changes) => self.on_changes(&changes, true),
            Message::Deliver(changes) => self.on_changes(&changes, false),
            Message::Have(ids) => self.events.push_back(Event::Have(to_change_ids(&ids))),
            Message::Prune(origins) => self.events.push_back(Event::Prune(origins)),
            Message::Peers(peers) => self.events.push_back(Event::Peers(to_peer_ids(&peers))),
            Message::Signal(s) => self.events.push_back(Event::Signal {
                from: PeerId(s.from),
                to: PeerId(s.to),
                dialer: s.dialer,
                payload: s.payload.0.to_vec(),
            }),
            Message::Presence(records) => {
                // Only peers that announced it get presence; from others it is unexpected.
                if self.cfg.features & super::super::wire::features::PRESENCE != 0 {
                    let records = records.iter().map(|r| r.0.to_vec()).collect();
                    self.events.push_back(Event::Presence(records));
                } else {
                    self.events
                        .push_back(Event::Offence(Offence::UnknownMessage));
                }
            }
            Message::Refuse { from, to } => self.events.push_back(Event::Refuse {
                from: PeerId(from),
                to: PeerId(to),
            }),
            Message::Pong(_)
            | Message::Hello(_)
            | Message::ForeignHello(_)
            | Message::Close { .. } => {}
        }
    }

    /// Answers a reconciliation query, at most one at a time: a ~14-byte query can ask for a
    /// 64 KiB reply, so a query that arrives while our previous reply has not left is dropped
    /// and counted against the peer (an honest leader waits for each reply).
    fn on_query(&mut self, recon: u32, round: u32, payload: &[u8], view: View<'_>) {
        if self.stats.bytes_sent < self.reply_mark {
            // A retransmission of the query being answered is the leader's timer, not a flood.
            if self.last_query != Some((recon, round)) {
                self.events.push_back(Event::Offence(Offence::QueryFlood));
            }
            return;
        }
        self.last_query = Some((recon, round));
        match respond(view.index, payload, self.cfg.recon_frame) {
            Ok(reply) => {
                self.send(
                    &Message::Reply {
                        recon,
                        round,
                        payload: Bytes(&reply),
                    },
                    Priority::Control,
                );
                let queued = (self.outbox.queued_bytes() + self.in_flight) as u64;
                self.reply_mark = self.stats.bytes_sent + queued.min(reply.len() as u64);
            }
            Err(e) => self.fail(CloseReason::Malformed, format!("reconciliation: {e}")),
        }
    }

    fn on_foreign_hello(&mut self, version: u16) {
        let detail = format!(
            "peer speaks sync protocol {version}, this peer speaks {PROTOCOL_VERSION}: update the older one"
        );
        self.close(CloseReason::VersionMismatch, &detail);
    }

    /// A hello: records the peer's nonce and answers with our proof; establishes the session
    /// once the peer's own proof verifies for this connection.
    fn on_hello(&mut self, h: Hello) {
        if h.commons != self.commons.0 {
            let detail = format!(
                "peer replicates commons {}, this peer {}",
                hex::encode(&h.commons[..8]),
                hex::encode(&self.commons.0[..8])
            );
            return self.close(CloseReason::CommonsMismatch, &detail);
        }
        let key = AuthorId(h.key);
        let peer = PeerId::derive(&key, &h.salt);
        if peer.0 != h.peer {
            return self.refuse_auth(AuthError::PeerIdNotDerived);
        }
        if peer == self.me {
            return self.close(CloseReason::Duplicate, "connected to itself");
        }
        match self.hello.their_nonce {
            // One connection, one nonce and one key: a hello that changes them is not the peer's.
            Some(n) if n != h.nonce || self.claimed != Some(peer) => {
                return self.refuse_auth(AuthError::Changed);
            }
            Some(_) => {}
            None => {
                self.hello.their_nonce = Some(h.nonce);
                self.claimed = Some(peer);
            }
        }
        if !self.hello.got_theirs {
            let Some(sig) = h.proof else {
                // The peer lacks our nonce: our proof goes out at once.
                self.hello.attempt = 0;
                return self.send_hello();
            };
            let fields = HelloFields {
                version: h.version,
                commons: &self.commons,
                key: &h.key,
                salt: &h.salt,
                nonce: &h.nonce,
                to: &self.me,
                to_nonce: &self.hello.nonce,
                items: h.items,
                features: h.features,
            };
            if let Err(e) = verify(&fields, &sig.0) {
                return self.refuse_auth(e);
            }
            self.establish(peer, key, &h);
        }
        if !h.ack {
            self.hello.attempt = 0;
            self.send_hello();
        }
    }

    fn establish(&mut self, peer: PeerId, key: AuthorId, h: &Hello) {
        self.hello.got_theirs = true;
        self.remote = Some(peer);
        self.remote_key = Some(key);
        self.remote_features = h.features;
        self.leads = if h.items == self.items {
            self.dialer
        } else {
            self.items > h.items
        };
        self.state = State::Open;
        self.events.push_back(Event::Established { peer, key });
        self.on_established();
    }

    /// A hello that does not authenticate: the connection closes. Before a hello authenticated
    /// anyone, there is nobody to blame: the node only drops this connection.
    fn refuse_auth(&mut self, e: AuthError) {
        let detail = e.to_string();
        self.events
            .push_back(Event::Offence(Offence::Malformed(detail.clone())));
        self.close(CloseReason::Unauthenticated, &detail);
    }

    fn on_established(&mut self) {
        // The first ping completes the handshake for a peer that has nothing else to say yet,
        // and measures the round trip.
        self.send(&Message::Ping(self.now), Priority::Control);
        self.next_ping = self.now + self.cfg.keepalive_ms;
        if self.leads {
            self.recon.next_at = Some(self.now);
        }
    }

    fn on_changes(&mut self, changes: &[Bytes<'_>], pushed: bool) {
        let mut got = Vec::with_capacity(changes.len());
        for bytes in changes {
            let id = change_id(bytes.0);
            if self.wants.received(&id) {
                self.wants.attempt = 0;
                self.wants.deadline = Some(self.now + self.backoff(0));
            }
            got.push((id, bytes.0.to_vec()));
        }
        self.stats.changes_received += got.len() as u64;
        if !got.is_empty() {
            self.events.push_back(Event::Changes {
                changes: got,
                pushed,
            });
        }
        self.check_synced();
    }

    fn limits(&self) -> Limits {
        Limits {
            frame: self.cfg.recon_frame,
            max_rounds: self.cfg.max_recon_rounds,
            max_ids: self.cfg.reassembly.max_message.max(1 << 20),
        }
    }

    fn on_reply(&mut self, recon: u32, round: u32, payload: &[u8], view: View<'_>) {
        let limits = self.limits();
        let Some(active) = self.recon.active.as_mut() else {
            return; // a late duplicate
        };
        if active.id != recon || active.round != round {
            return; // a late duplicate of an earlier round
        }
        if active.attempt == 1 {
            // Karn: only rounds answered on their first try give a clean sample.
            let sample = self.now.saturating_sub(active.sent_at);
            self.sample_rtt(sample);
        }
        let step = match self.recon.active.as_mut() {
            Some(active) => active.step(view.index, payload, limits),
            None => return,
        };
        match step {
            Err(e) => self.fail(CloseReason::Malformed, e.to_string()),
            Ok(Step::Query) => self.send_query(),
            Ok(Step::Finished { have, need }) => self.finish_recon(view, have, need),
        }
    }

    fn finish_recon(&mut self, view: View<'_>, have: Vec<ChangeId>, need: Vec<ChangeId>) {
        let id = self.recon.active.take().map_or(0, |a| a.id);
        let sent = have.len();
        self.out.deliver.extend(view.index.with_depths(have));
        self.out.done_after = Some(id);
        self.recon.awaiting = Some((sent, need.len()));
        self.wants.attempt = 0;
        self.wants.add(need);
        self.check_synced();
    }

    fn check_synced(&mut self) {
        if !self.wants.is_empty() {
            return;
        }
        self.wants.deadline = None;
        if let Some((sent, received)) = self.recon.awaiting.take() {
            self.events.push_back(Event::Synced { sent, received });
            if self.leads && self.recon.next_at.is_none() {
                self.recon.next_at = Some(self.now + self.cfg.anti_entropy_ms);
            }
        }
    }

    fn start_recon(&mut self, view: View<'_>) {
        let id = self.recon.next_id;
        self.recon.next_id = self.recon.next_id.wrapping_add(1);
        match Active::start(id, view.index, self.limits()) {
            Ok(active) => {
                self.recon.active = Some(active);
                self.send_query();
            }
            // Only a frame limit below negentropy's minimum fails here: a configuration error.
            Err(e) => self.close(CloseReason::Shutdown, &format!("reconciliation: {e}")),
        }
    }

    fn send_query(&mut self) {
        let timeout = self.backoff(self.recon.active.as_ref().map_or(0, |a| a.attempt));
        let Some(active) = self.recon.active.as_mut() else {
            return;
        };
        active.sent_at = self.now;
        active.deadline = self.now + timeout;
        active.attempt += 1;
        let msg = Message::Query {
            recon: active.id,
            round: active.round,
            payload: Bytes(&active.query),
        };
        let bytes = msg.encode();
        self.stats.recon_queries += 1;
        self.outbox.push(bytes, Priority::Control);
    }

    fn run_timers(&mut self, view: View<'_>) {
        if self.state == State::Closed {
            return;
        }
        let now = self.now;
        self.reasm.expire(now);
        if self.state == State::Handshake && now >= self.hello.deadline {
            return self.close(CloseReason::Timeout, "no hello from peer");
        }
        if self.state == State::Open && now >= self.last_recv + self.cfg.idle_timeout_ms {
            return self.close(CloseReason::Timeout, "peer went silent");
        }
        if !self.hello.they_have_ours && now >= self.hello.next_send {
            self.send_hello();
        }
        if self.state != State::Open {
            return;
        }
        if now >= self.next_ping {
            self.send(&Message::Ping(now), Priority::Control);
            self.next_ping = now + self.cfg.keepalive_ms;
        }
        if self.out.announce_due.is_some_and(|due| now >= due) {
            let ids = std::mem::take(&mut self.out.announce);
            self.out.announce_due = None;
            let ids = ids.iter().map(|id| id.0).collect();
            self.send(&Message::Have(ids), Priority::Control);
        }
        self.recon_timers(view);
        self.want_timers();
    }

    fn recon_timers(&mut self, view: View<'_>) {
        let now = self.now;
        match &self.recon.active {
            Some(active) if now >= active.deadline => {
                if active.attempt > self.cfg.max_retries {
                    self.events.push_back(Event::Offence(Offence::Unresponsive));
                    return self.close(CloseReason::Timeout, "reconciliation went unanswered");
                }
                self.send_query();
            }
            Some(_) => {}
            None if self.recon.awaiting.is_none()
                && self.recon.next_at.is_some_and(|at| now >= at) =>
            {
                self.recon.next_at = None;
                self.start_recon(view);
            }
            None => {}
        }
    }

    fn want_timers(&mut self) {
        let Some(deadline) = self.wants.deadline else {
            return;
        };
        if self.now < deadline || !self.wants.queued.is_empty() {
            return;
        }
        if self.wants.attempt >= self.cfg.max_retries {
            self.events.push_back(Event::Offence(Offence::Unresponsive));
            return self.close(CloseReason::Timeout, "wanted changes never came");
        }
        self.wants.attempt += 1;
        self.wants.requeue();
        self.wants.deadline = Some(self.now + self.backoff(self.wants.attempt));
    }

    fn next_deadline(&self) -> u64 {
        let mut t = u64::MAX;
        let mut at = |d: u64| t = t.min(d);
        if let Some(d) = self.reasm.next_expiry() {
            at(d);
        }
        match self.state {
            State::Handshake => at(self.hello.deadline),
            State::Open => {
                at(self.last_recv + self.cfg.idle_timeout_ms);
                at(self.next_ping);
            }
            State::Closed => return u64::MAX,
        }
        if !self.hello.they_have_ours {
            at(self.hello.next_send);
        }
        if let Some(d) = self.out.announce_due {
            at(d);
        }
        match &self.recon.active {
            Some(a) => at(a.deadline),
            None if self.recon.awaiting.is_none() => {
                if let Some(d) = self.recon.next_at {
                    at(d);
                }
            }
            None => {}
        }
        if let Some(d) = self.wants.deadline {
            at(d);
        }
        t
    }
}
