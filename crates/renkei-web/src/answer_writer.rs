//! Group commit of safety-check answers. In a disaster the answers come in a surge; with every
//! commit made durable (`synchronous=FULL` on SQLite), one commit per answer would cap the rate
//! at the disk's flushes per second. Requests hand their answer to one writer task, which takes
//! whatever has queued up (at most [`MAX_BATCH`]) and commits it in one transaction; each
//! request is answered only after that commit, so an answer acknowledged is an answer kept.
//!
//! A quick answer is handed over with its link's token hash, not its target: the batch resolves
//! every token at once (`Store::record_safety_group`), so the surge's requests read nothing
//! from the database themselves. The first opening of a link (the form shown) is noted in the
//! same groups without waiting for it: showing the form costs no commit of its own.

use renkei_domain::accounts::UserId;
use renkei_domain::safety::{Answer, QuickAnswer};
use renkei_store::answers::QuickOutcome;
use renkei_store::{Store, StoreError};
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Answers committed together at most.
pub const MAX_BATCH: usize = 512;

enum Job {
    /// A whole answer for a known target (phone entries, details).
    Whole {
        target_id: i64,
        answer: Answer,
        entered_by: Option<UserId>,
        reply: oneshot::Sender<Result<i64, String>>,
    },
    /// A quick answer by its link (token hash), checked against `now` for a closed check.
    Quick {
        token_hash: String,
        quick: QuickAnswer,
        now: String,
        reply: oneshot::Sender<Result<QuickOutcome, String>>,
    },
    /// A link's form was shown: note its first opening with the next group.
    Opened { target_id: i64 },
}

/// The writer: started on first use, so building the state needs no runtime.
#[derive(Debug, Default)]
pub struct AnswerWriter {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
}

fn stopped() -> StoreError {
    StoreError::Invalid("the answer writer stopped".into())
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
        let job = Job::Whole {
            target_id,
            answer,
            entered_by,
            reply,
        };
        if self.sender(store).send(job).await.is_err() {
            return Err(stopped());
        }
        done.await
            .map_err(|_| stopped())?
            .map_err(StoreError::Invalid)
    }

    /// Notes that a link's form was shown (its first opening), with the next group, without
    /// waiting. When the queue is full the note is written on its own, in the background.
    pub fn note_opened(&self, store: &Store, target_id: i64) {
        if let Err(mpsc::error::TrySendError::Full(_) | mpsc::error::TrySendError::Closed(_)) =
            self.sender(store).try_send(Job::Opened { target_id })
        {
            let store = store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.note_safety_opened(target_id).await {
                    tracing::warn!(error = %e, "noting a link's opening failed");
                }
            });
        }
    }

    /// Keeps a quick answer sent by the link whose token hashes to `token_hash` (with the
    /// details given before), once committed; `now` is the application's time (UTC text) for
    /// telling a closed check.
    pub async fn record_quick(
        &self,
        store: &Store,
        token_hash: String,
        quick: QuickAnswer,
        now: String,
    ) -> Result<QuickOutcome, StoreError> {
        let (reply, done) = oneshot::channel();
        let job = Job::Quick {
            token_hash,
            quick,
            now,
            reply,
        };
        if self.sender(store).send(job).await.is_err() {
            return Err(stopped());
        }
        done.await
            .map_err(|_| stopped())?
            .map_err(StoreError::Invalid)
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
        let mut whole = Vec::new();
        let mut whole_replies = Vec::new();
        let mut quick = Vec::new();
        let mut quick_replies = Vec::new();
        let mut opened = Vec::new();
        for job in jobs {
            match job {
                Job::Whole {
                    target_id,
                    answer,
                    entered_by,
                    reply,
                } => {
                    whole.push((target_id, answer, entered_by));
                    whole_replies.push(reply);
                }
                Job::Quick {
                    token_hash,
                    quick: q,
                    now,
                    reply,
                } => {
                    quick.push((token_hash, q, now));
                    quick_replies.push(reply);
                }
                Job::Opened { target_id } => opened.push(target_id),
            }
        }
        match store.record_safety_group(&whole, &quick, &opened).await {
            Ok((versions, outcomes)) => {
                for (reply, version) in whole_replies.into_iter().zip(versions) {
                    let _ = reply.send(Ok(version));
                }
                for (reply, outcome) in quick_replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, answers = whole.len() + quick.len(), openings = opened.len(), "storing answers failed");
                for reply in whole_replies {
                    let _ = reply.send(Err(e.to_string()));
                }
                for reply in quick_replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
