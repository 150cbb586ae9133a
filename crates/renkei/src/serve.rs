//! `renkei serve`: bind, open the database, optionally load the demo, serve until a signal.

use crate::config::Config;
use crate::database::{load_demo, open_database, OpenedDatabase};
use crate::failure::Failure;
use renkei_web::mail::{Mailer, SmtpSettings};
use renkei_web::{router, AppState, WebConfig};
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;

/// Sets up logging to standard error; `filter` follows `tracing`'s env-filter syntax.
pub fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(format!("{filter},sqlx=warn"))
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

/// Where and how often the server writes audit anchors (`serve --audit-anchor`).
#[derive(Debug, Clone)]
pub struct AnchorSettings {
    /// The anchor file.
    pub file: std::path::PathBuf,
    /// Time between two anchors.
    pub every: std::time::Duration,
}

/// Runs the server until Ctrl-C or SIGTERM (writing audit anchors when `anchor` is given).
pub async fn serve(
    config: Config,
    demo: bool,
    anchor: Option<AnchorSettings>,
) -> Result<(), Failure> {
    let addr: SocketAddr = config
        .listen
        .parse()
        .map_err(|_| Failure::listen_syntax(&config.listen))?;
    // Settings are checked before anything is bound or created.
    let smtp = match &config.smtp_url {
        Some(url) => Some(
            SmtpSettings::from_url(url, &config.mail_from)
                .map_err(|e| Failure::new(2, e.to_string(), e.to_string()))?,
        ),
        None => None,
    };
    // Bind first: a port in use must fail before anything is created on disk.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::listen(&config.listen, &e))?;
    // A restore waits for this lock: it cannot swap the database under a running server.
    let serving = crate::backup::hold_for_serving(&config)?;
    let OpenedDatabase { store, target } = match open_database(&config).await {
        Ok(opened) => opened,
        Err(failure) => {
            if let Some(lock) = serving {
                lock.abandon();
            }
            return Err(failure);
        }
    };
    check_durability(&store, &target).await?;
    if demo {
        let loaded = load_demo(&store, &target).await?;
        if loaded > 0 {
            println!("デモデータ（架空の医療機関 {loaded} 件）を読み込みました / loaded {loaded} fictional demo institutions");
        }
        print!("{}", crate::demo_accounts::banner());
    }
    let web = WebConfig {
        body_limit: config.body_limit,
        request_timeout: config.request_timeout,
        secure_cookies: config.public_url.starts_with("https://"),
        session_idle: config.session_idle,
        session_lifetime: config.session_lifetime,
        public_url: config.public_url.trim_end_matches('/').to_owned(),
        fhir_canonical: config.fhir_canonical.clone(),
        map: config.map.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        body_progress_timeout: config.header_timeout,
        ..WebConfig::default()
    };
    let mailer = Mailer::new(smtp);
    let state = AppState::new(store.clone(), web).with_mailer(mailer.clone());
    spawn_mail_retries(store.clone(), mailer);
    spawn_index_refresh(state.clone());
    // Count the region overview once now, so the first visitors of the home and directory
    // pages do not wait for it (at 300,000 entries the count takes about a second).
    let first_count = state.clone();
    tokio::spawn(async move {
        if let Err(e) = first_count.overview.get(&first_count.store).await {
            tracing::warn!(error = %e, "counting the region overview failed");
        }
    });
    spawn_scheduled_reminders(state.clone());
    if let Some(anchor) = anchor {
        spawn_audit_anchors(store.clone(), anchor);
    }
    // SQLite's log is copied into the database in the background, not by a request's commit.
    state
        .store
        .spawn_checkpoints(std::time::Duration::from_secs(10));
    state
        .load_policy()
        .await
        .map_err(|e| Failure::database(&target, &e))?;
    let app = router(state);
    let local = listener
        .local_addr()
        .map_err(|e| Failure::listen(&config.listen, &e))?;
    println!("Renkei を起動しました: http://{local}/ （データベース: {target}） / Renkei is running at http://{local}/ (database: {target})");
    tracing::info!(%local, backend = store.backend().name(), "listening");
    crate::connections::serve(
        listener,
        app,
        crate::connections::Limits {
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
            per_client: config.max_connections_per_client,
        },
        &config.trusted_proxies,
        shutdown_signal(),
    )
    .await;
    store.close().await;
    drop(serving);
    tracing::info!("stopped");
    Ok(())
}

/// Appends the audit chain's signed head to the anchor file at start and then periodically; a
/// failure is logged (an operator watches for it) and tried again next time.
fn spawn_audit_anchors(store: renkei_store::Store, settings: AnchorSettings) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(settings.every);
        loop {
            ticks.tick().await;
            match store.audit_anchor().await {
                Ok(anchor) => {
                    if let Err(e) = crate::admin::append_anchor(&settings.file, &anchor) {
                        tracing::error!(error = %e, "could not write the audit anchor file");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not read the audit head"),
            }
        }
    });
}

/// Retries undelivered mail every minute while the server runs.
fn spawn_mail_retries(store: renkei_store::Store, mailer: Mailer) {
    if !mailer.delivers() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match mailer.deliver_pending(&store).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(delivered = n, "queued mail delivered"),
                Err(e) => tracing::warn!(error = %e, "mail retry failed"),
            }
        }
    });
}

/// Sends safety checks' scheduled reminders when they fall due, widens urgent requests nobody
/// has answered in time and reminds coordinators of consultation follow-ups due (all checked
/// every 30 seconds).
fn spawn_scheduled_reminders(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            tick.tick().await;
            match renkei_web::pages::safety::send_due_reminders(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(mails = n, "scheduled safety-check reminders sent"),
                Err(e) => tracing::warn!(error = %e, "scheduled reminders failed"),
            }
            match renkei_web::pages::urgent::escalate_due(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(steps = n, "urgent requests escalated"),
                Err(e) => tracing::warn!(error = %e, "urgent-request escalation failed"),
            }
            match renkei_web::pages::consultation::remind_due_follow_ups(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(mails = n, "consultation follow-up reminders sent"),
                Err(e) => tracing::warn!(error = %e, "follow-up reminders failed"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing running requests");
}

/// Loads the directory's spatial index at start and keeps it current every second (other
/// servers' changes arrive through the change feed).
fn spawn_index_refresh(state: AppState) {
    tokio::spawn(async move {
        // Once a second: an entry approved on another instance is found here within two
        // seconds (an incremental refresh reads only what changed, a few rows).
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = state.directory_index.refresh(&state.store).await {
                tracing::warn!(error = %e, "refreshing the directory index failed");
            }
        }
    });
}

/// Reads back whether commits are durable before they are acknowledged: on SQLite Renkei sets
/// `synchronous=FULL` itself, so anything else is a fault and the start fails; on PostgreSQL
/// `fsync` and `synchronous_commit` are the operator's, so a lossy setting is a loud warning.
async fn check_durability(store: &renkei_store::Store, target: &str) -> Result<(), Failure> {
    let durability = store
        .durability()
        .await
        .map_err(|e| Failure::database(target, &e))?;
    tracing::info!(settings = %durability.settings.join(" "), "durability");
    if durability.is_durable() {
        return Ok(());
    }
    if store.backend() == renkei_store::Backend::Sqlite {
        // Each problem reads "日本語 / English".
        let part = |i: usize| {
            durability
                .problems
                .iter()
                .map(|p| p.split(" / ").nth(i).unwrap_or(p).to_owned())
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(Failure::new(1, part(0), part(1)));
    }
    for problem in &durability.problems {
        eprintln!("警告 / Warning: {problem}");
        tracing::warn!(setting = %problem, "commits are not durable");
    }
    Ok(())
}
