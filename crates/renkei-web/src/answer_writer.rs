//! Group commit of safety-check answers. In a disaster the answers come in a surge; with every
//! commit made durable (`synchronous=FULL` on SQLite), one commit per answer would cap the rate
//! at the disk's flushes per second. Requests hand their answer to one writer task, which takes
//! whatever has queued up (at most [`MAX_BATCH`]) and commits it in one transaction; each
//! request is answered only after that commit, so an answer acknowledged is an answer kept.

use renkei_domain::accounts::UserId;
use renkei_domain::safety::Answer;
use renkei_store::{Store, StoreError};
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Answers committed together at most.
pub const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<i64, String>>;

struct Job {
    target_id: i64,
    answer: Answer,
    entered_by: Option<UserId>,
    reply: Reply,
}

/// The writer: started on first use, so building the state needs no runtime.
#[derive(Debug, Default)]
pub struct AnswerWriter {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
}

impl AnswerWriter {
    fn sender(&self, store: &Store) -> mpsc::Sender<Job> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = queue.as_ref().filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(write_batches(store.clone(), rx));
        *queue = Some(tx.clone());
        tx
    }

    /// Keeps an answer as its target's next version and returns the version, once it is
    /// committed together with whatever else was waiting.
    pub async fn record(
        &self,
        store: &Store,
        target_id: i64,
        answer: Answer,
        entered_by: Option<UserId>,
    ) -> Result<i64, StoreError> {
        let (reply, done) = oneshot::channel();
        let job = Job {
            target_id,
            answer,
            entered_by,
            reply,
        };
        if self.sender(store).send(job).await.is_err() {
            return Err(StoreError::Invalid("the answer writer stopped".into()));
        }
        match done.await {
            Ok(Ok(version)) => Ok(version),
            Ok(Err(e)) => Err(StoreError::Invalid(e)),
            Err(_) => Err(StoreError::Invalid("the answer writer stopped".into())),
        }
    }
}

async fn write_batches(store: Store, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let items: Vec<(i64, Answer, Option<UserId>)> = jobs
            .iter()
            .map(|j| (j.target_id, j.answer.clone(), j.entered_by))
            .collect();
        match store.record_safety_answers(&items).await {
            Ok(versions) => {
                for (job, version) in jobs.into_iter().zip(versions) {
                    let _ = job.reply.send(Ok(version));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, answers = items.len(), "storing answers failed");
                for job in jobs {
                    let _ = job.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
