//! The task board: needs broadcast to everyone, picked up by whoever fits.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::types::TaskInfo;
use super::{js_error, parse_id, WebCommons};
use crate::change::{ChangeId, Op};
use crate::commons::TaskStatus;
use crate::web::runtime::events::to_js;
use crate::web::runtime::{call, Waiter};

/// What `postTask` takes.
#[derive(serde::Deserialize)]
struct NewTask {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    skills: Vec<String>,
}

#[wasm_bindgen(js_class = Commons)]
impl WebCommons {
    /// The tasks, by id, with their status folded from claims, releases and completions.
    #[wasm_bindgen(unchecked_return_type = "TaskInfo[]")]
    pub fn tasks(&self) -> JsValue {
        let list: Vec<TaskInfo> = self.read(|c| {
            c.tasks()
                .map(|t| {
                    let (status, claimed_by, done_by, contributions) = match t.status() {
                        TaskStatus::Open => ("open", vec![], None, vec![]),
                        TaskStatus::Claimed(who) => (
                            "claimed",
                            who.iter().map(|a| a.to_hex()).collect(),
                            None,
                            vec![],
                        ),
                        TaskStatus::Done {
                            by, contributions, ..
                        } => (
                            "done",
                            vec![],
                            Some(by.to_hex()),
                            contributions.iter().map(ChangeId::to_hex).collect(),
                        ),
                    };
                    TaskInfo {
                        id: t.id.to_hex(),
                        title: t.title.clone(),
                        description: t.description.clone(),
                        skills: t.skills.clone(),
                        posted_by: t.posted_by.to_hex(),
                        posted_by_name: c.name_of(&t.posted_by).map(str::to_string),
                        time: t.time,
                        status,
                        claimed_by,
                        done_by,
                        contributions,
                    }
                })
                .collect()
        });
        to_js(&list)
    }

    /// Posts a task `{ title, description?, skills? }`; resolves with its id once stored.
    #[wasm_bindgen(js_name = postTask, unchecked_return_type = "Promise<string>")]
    pub fn post_task(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ title: string; description?: string; skills?: string[] }"
        )]
        task: JsValue,
    ) -> Result<Promise, JsError> {
        super::options::known_keys(&task, &["title", "description", "skills"], "task field")?;
        let t: NewTask = serde_wasm_bindgen::from_value(task).map_err(|e| {
            JsError::new(&format!(
                "a task is {{ title, description?, skills? }}: {e}"
            ))
        })?;
        self.task_op(Op::PostTask {
            title: t.title,
            description: t.description,
            skills: t.skills,
        })
    }

    /// Takes a task on; resolves once stored.
    #[wasm_bindgen(js_name = claimTask, unchecked_return_type = "Promise<string>")]
    pub fn claim_task(
        &self,
        #[wasm_bindgen(js_name = taskId)] task_id: String,
    ) -> Result<Promise, JsError> {
        let task = self.known_task(&task_id)?;
        self.task_op(Op::ClaimTask { task })
    }

    /// Gives a claimed task back; resolves once stored.
    #[wasm_bindgen(js_name = releaseTask, unchecked_return_type = "Promise<string>")]
    pub fn release_task(
        &self,
        #[wasm_bindgen(js_name = taskId)] task_id: String,
    ) -> Result<Promise, JsError> {
        let task = self.known_task(&task_id)?;
        self.task_op(Op::ReleaseTask { task })
    }

    /// Marks a task done, linking the changes that did it; resolves once stored.
    #[wasm_bindgen(js_name = completeTask, unchecked_return_type = "Promise<string>")]
    pub fn complete_task(
        &self,
        #[wasm_bindgen(js_name = taskId)] task_id: String,
        contributions: Option<Vec<String>>,
    ) -> Result<Promise, JsError> {
        let task = self.known_task(&task_id)?;
        let contributions = contributions
            .unwrap_or_default()
            .iter()
            .map(|c| parse_id(c, "a contribution (change id)"))
            .collect::<Result<Vec<_>, _>>()?;
        self.task_op(Op::CompleteTask {
            task,
            contributions,
        })
    }
}

impl WebCommons {
    fn known_task(&self, id: &str) -> Result<ChangeId, JsError> {
        let task = parse_id(id, "a task id")?;
        match self.read(|c| c.task(&task).is_some()) {
            true => Ok(task),
            false => Err(JsError::new(&format!(
                "no task {} in this commons (not posted yet, or not synced yet)",
                task.short()
            ))),
        }
    }

    fn task_op(&self, op: Op) -> Result<Promise, JsError> {
        let (promise, waiter) = Waiter::promise();
        call(&self.shared, move |rt| rt.act(vec![op], waiter)).map_err(js_error)?;
        Ok(promise)
    }
}
