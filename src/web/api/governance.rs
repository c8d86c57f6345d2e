//! Governance in the JS API: endorse, flag, revert, propose, vote, and the read views
//! (proposals with tallies and votes, members, participants, blocked keys, the charter in force,
//! a contribution's validation). Thin: every rule lives in `crate::commons::governance`.
//!
//! Writes resolve once the resulting change is stored (then it is sent to peers); reads are
//! synchronous over the in-memory replica.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::{js_error, parse_id, WebCommons};
use crate::commons::governance::actions::parse_choice;
use crate::commons::governance::ProposalInput;
use crate::web::runtime::events::to_js;
use crate::web::runtime::{call, js, Waiter};

#[wasm_bindgen(js_class = Commons)]
impl WebCommons {
    /// Endorses another person's change (validation after the fact); resolves with the id of
    /// the endorsement once stored.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn endorse(
        &self,
        #[wasm_bindgen(js_name = changeId)] change_id: String,
    ) -> Result<Promise, JsError> {
        let id = parse_id(&change_id, "a change id")?;
        self.governance_write(move |c, now| c.endorse(&id, now))
    }

    /// Flags a change with a reason everyone can read; resolves with the flag's id once stored.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn flag(
        &self,
        #[wasm_bindgen(js_name = changeId)] change_id: String,
        reason: String,
    ) -> Result<Promise, JsError> {
        let id = parse_id(&change_id, "a change id")?;
        self.governance_write(move |c, now| c.flag(&id, &reason, now))
    }

    /// Reverts a change (members only): its effect on the documents is undone by a new change,
    /// which can itself be reverted. Resolves with the revert's id once stored.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn revert(
        &self,
        #[wasm_bindgen(js_name = changeId)] change_id: String,
    ) -> Result<Promise, JsError> {
        let id = parse_id(&change_id, "a change id")?;
        self.governance_write(move |c, now| c.revert(&id, now))
    }

    /// Makes a proposal `{ kind, text, params }`: kind is "parameter" (params name, value),
    /// "block" / "unblock" (params key), "licence" (params spdx) or "decision". Resolves with the
    /// proposal id once stored.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn propose(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ kind: string; text?: string; params?: Record<string, string> }"
        )]
        proposal: JsValue,
    ) -> Result<Promise, JsError> {
        let input: ProposalInput = serde_wasm_bindgen::from_value(proposal).map_err(|e| {
            JsError::new(&format!(
                "a proposal is {{ kind, text, params }} with string params: {e}"
            ))
        })?;
        let (promise, waiter) = Waiter::promise();
        call(self.shared(), move |rt| {
            let result = rt.node.replica_mut().propose_input(&input, js::now_ms());
            let (result, id) = match result {
                Ok((id, changes)) => (Ok(changes), Some(id)),
                Err(e) => (Err(e), None),
            };
            rt.write(result, waiter, |_| {
                id.map_or(JsValue::UNDEFINED, |id| id.to_hex().into())
            });
        })
        .map_err(js_error)?;
        Ok(promise)
    }

    /// Votes "yes", "no" or "abstain" on a proposal (your latest vote counts); resolves with the
    /// vote's id once stored.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn vote(
        &self,
        #[wasm_bindgen(js_name = proposalId)] proposal_id: String,
        choice: String,
    ) -> Result<Promise, JsError> {
        let id = parse_id(&proposal_id, "a proposal id")?;
        let choice = parse_choice(&choice).map_err(js_error)?;
        self.governance_write(move |c, now| c.vote(&id, choice, now))
    }

    /// Every proposal, open and decided, with its electorate, tally, outcome and who voted what.
    #[wasm_bindgen(unchecked_return_type = "any[]")]
    pub fn proposals(&self) -> JsValue {
        to_js(&self.read(|c| c.proposals()))
    }

    /// The members: key, the change that made them one, who endorsed them, founder or not.
    #[wasm_bindgen(unchecked_return_type = "any[]")]
    pub fn members(&self) -> JsValue {
        to_js(&self.read(|c| c.members()))
    }

    /// Everyone who authored a change: key, claimed name, changes, member, blocked, and
    /// `equivocating` (signed two changes claiming the same CRDT ids; the later one's text is void).
    #[wasm_bindgen(unchecked_return_type = "any[]")]
    pub fn participants(&self) -> JsValue {
        to_js(&self.read(|c| c.participant_views()))
    }

    /// Keys blocked by proposal, with the proposals that blocked them.
    #[wasm_bindgen(js_name = blockedKeys, unchecked_return_type = "any[]")]
    pub fn blocked_keys(&self) -> JsValue {
        to_js(&self.read(|c| c.blocked_keys()))
    }

    /// The charter in force: each value with the proposal that set it (`setBy`, null for the
    /// genesis); `null` until the genesis has arrived.
    #[wasm_bindgen(js_name = charterInForce, unchecked_return_type = "any")]
    pub fn charter_in_force(&self) -> JsValue {
        self.read(|c| c.charter())
            .map_or(JsValue::NULL, |v| to_js(&v))
    }

    /// Where a change stands: unvalidated, endorsed, flagged or reverted, with its endorsements,
    /// flags and reverts; `null` if this replica does not hold it.
    #[wasm_bindgen(unchecked_return_type = "any")]
    pub fn validation(
        &self,
        #[wasm_bindgen(js_name = changeId)] change_id: String,
    ) -> Result<JsValue, JsError> {
        let id = parse_id(&change_id, "a change id")?;
        Ok(self
            .read(|c| c.validation(&id))
            .map_or(JsValue::NULL, |v| to_js(&v)))
    }
}

impl WebCommons {
    /// Runs a governance action on the replica and stores its changes; the promise resolves
    /// with the id of the last change written.
    pub(super) fn governance_write<E: std::fmt::Display + 'static>(
        &self,
        f: impl FnOnce(&mut crate::commons::Commons, u64) -> Result<Vec<crate::change::Change>, E>
            + 'static,
    ) -> Result<Promise, JsError> {
        let (promise, waiter) = Waiter::promise();
        call(self.shared(), move |rt| {
            let result = f(rt.node.replica_mut(), js::now_ms());
            rt.write(result, waiter, |changes| {
                changes
                    .last()
                    .map_or(JsValue::UNDEFINED, |c| c.id.to_hex().into())
            });
        })
        .map_err(js_error)?;
        Ok(promise)
    }
}
