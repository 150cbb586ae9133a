//! Who may use a route. Every route declares an [`Access`] rule when it is added to the router
//! (see `routes.rs`); the guard middleware enforces it and a test walks the whole table.

use super::policy::TwoFactorPolicy;
use super::session::{ClientAddr, Viewer};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::Outcome;
use renkei_store::audit::AuditEvent;

/// Where a session stands in the login. Every request is in exactly one state; the guard
/// computes it from the session and the two-factor policy ([`state_of`]), and every route
/// declares in its [`Access`] rule which states it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// No session.
    Anonymous,
    /// The password was accepted; the account has a second factor, still to be given.
    SecondFactorOwed,
    /// The password was accepted (or the session is older than the policy); the account has no
    /// second factor and the policy requires one: it must be enrolled first.
    EnrolmentOwed,
    /// Fully signed in (by session or API token).
    SignedIn,
}

/// The state of a viewer under `policy`.
pub fn state_of(viewer: &Viewer, policy: &TwoFactorPolicy) -> SessionState {
    match viewer {
        Viewer::Anonymous { .. } => SessionState::Anonymous,
        Viewer::Pending { user, .. } if user.totp_enabled => SessionState::SecondFactorOwed,
        Viewer::Pending { .. } => SessionState::EnrolmentOwed,
        Viewer::SignedIn { user, .. } | Viewer::Token { user, .. } => {
            if !user.totp_enabled && policy.requires_any(&user.roles()) {
                SessionState::EnrolmentOwed
            } else {
                SessionState::SignedIn
            }
        }
    }
}

/// The rule of a route: the session states it accepts (and, for signed-in users, the roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, in any state.
    Public,
    /// Only a session that owes its second factor: the second-factor page of the login.
    SecondFactorStep,
    /// Only an account without a second factor: enrolment owed, or signed in without one
    /// (a voluntary enrolment). An account that has one never reaches it (re-binding goes
    /// through the signed-in replacement, with the password and a current code).
    Enrolment,
    /// Any session, whatever it still owes (logout).
    AnySession,
    /// Any fully signed-in user.
    SignedIn,
    /// A fully signed-in user holding one of these roles.
    Roles(&'static [AccountRole]),
}

impl Access {
    /// Whether the rule accepts a viewer in `state` (for [`Access::Enrolment`], `has_factor`
    /// tells whether the signed-in account already has a second factor).
    pub fn accepts(self, state: SessionState, has_factor: bool) -> bool {
        match self {
            Access::Public => true,
            Access::SecondFactorStep => state == SessionState::SecondFactorOwed,
            Access::Enrolment => {
                state == SessionState::EnrolmentOwed
                    || (state == SessionState::SignedIn && !has_factor)
            }
            Access::AnySession => state != SessionState::Anonymous,
            Access::SignedIn | Access::Roles(_) => state == SessionState::SignedIn,
        }
    }
}

/// What the guard decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Allow,
    /// Log in first.
    Login,
    /// Give the second factor first.
    SecondFactor,
    /// Enrol a second factor first (the policy requires one).
    Enrol,
    /// This step is already done: go to this page instead (a signed-in user on the
    /// second-factor page, an account with a second factor on the enrolment page).
    Done(&'static str),
    /// Logged in, but not allowed.
    Forbidden,
}

/// The decision for a viewer on a route (pure: the test of the route table relies on it too).
pub fn decide(access: Access, viewer: &Viewer, policy: &TwoFactorPolicy) -> Decision {
    let state = state_of(viewer, policy);
    let has_factor = viewer.user().is_some_and(|u| u.totp_enabled);
    if access.accepts(state, has_factor) {
        if let (Access::Roles(roles), Some(user)) = (access, viewer.user()) {
            if !roles.iter().any(|r| user.has_role(*r)) {
                return Decision::Forbidden;
            }
        }
        return Decision::Allow;
    }
    match (state, access) {
        (SessionState::Anonymous, _) => Decision::Login,
        (SessionState::SecondFactorOwed, _) => Decision::SecondFactor,
        (SessionState::EnrolmentOwed, _) => Decision::Enrol,
        (SessionState::SignedIn, Access::Enrolment) => Decision::Done("/account"),
        (SessionState::SignedIn, _) => Decision::Done("/"),
    }
}

/// Per-route middleware enforcing `access`.
pub async fn guard(
    State((app, access)): State<(AppState, Access)>,
    request: Request,
    next: Next,
) -> Response {
    let viewer = request
        .extensions()
        .get::<Viewer>()
        .cloned()
        .unwrap_or(Viewer::Anonymous {
            csrf: String::new(),
        });
    let client = client_of(request.extensions());
    let policy = app.two_factor_policy();
    let path = request.uri().path().to_owned();
    let is_api = is_machine_path(&path);
    let needed_scope = if request.method() == axum::http::Method::GET {
        "read"
    } else {
        "write"
    };
    if is_api && access != Access::Public && !viewer.has_scope(needed_scope) {
        return machine_error(
            &path,
            StatusCode::FORBIDDEN,
            "API トークンの権限（scope）が足りません / the token lacks the scope",
        );
    }
    let decision = decide(access, &viewer, &policy);
    if decision == Decision::Allow {
        return next.run(request).await;
    }
    let lang = crate::i18n::lang_of(&request.into_parts().0);
    match decision {
        Decision::Allow => unreachable!("handled above"),
        Decision::Login if is_api => machine_error(
            &path,
            StatusCode::UNAUTHORIZED,
            "ログインが必要です / authentication required",
        ),
        Decision::Login => redirect(&format!(
            "/login?next={}",
            crate::chrome::encode_path(&path)
        )),
        Decision::SecondFactor if is_api => machine_error(
            &path,
            StatusCode::UNAUTHORIZED,
            "二要素認証が必要です / second factor required",
        ),
        Decision::SecondFactor => redirect("/login/two-factor"),
        Decision::Enrol if is_api => machine_error(
            &path,
            StatusCode::FORBIDDEN,
            "二要素認証の登録が必要です / two-factor enrolment required",
        ),
        Decision::Enrol => redirect("/account/two-factor"),
        Decision::Done(_) if is_api => machine_error(
            &path,
            StatusCode::FORBIDDEN,
            "この操作の権限がありません / forbidden",
        ),
        Decision::Done(to) => redirect(to),
        Decision::Forbidden => {
            let event = AuditEvent::new(
                viewer.user().map(|u| u.id),
                "access.denied",
                Outcome::Denied,
                format!("route:{path}"),
                client,
            );
            if let Err(e) = app.store.append_audit(&event).await {
                tracing::error!(error = %e, "could not record a denial");
            }
            if is_api {
                machine_error(
                    &path,
                    StatusCode::FORBIDDEN,
                    "この操作の権限がありません / forbidden",
                )
            } else {
                crate::error::forbidden(lang, &viewer)
            }
        }
    }
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// Whether a path is for programs: JSON answers instead of pages, and API tokens accepted —
/// the JSON API and the FHIR MeasureReports (the reports' counts, not public).
pub fn is_machine_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path == "/fhir/MeasureReport"
        || path.starts_with("/fhir/MeasureReport/")
}

/// A refusal for a program: an OperationOutcome under `/fhir/`, `{"error": …}` elsewhere.
pub fn machine_error(path: &str, status: StatusCode, message: &str) -> Response {
    if path.starts_with("/fhir/") {
        let code = match status {
            StatusCode::UNAUTHORIZED => "login",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::BAD_REQUEST => "invalid",
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::METHOD_NOT_ALLOWED => "not-supported",
            _ => "transient",
        };
        return crate::fhir::outcome::Problem {
            status,
            code,
            diagnostics: message.to_owned(),
        }
        .into_response();
    }
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// The client address recorded by the session middleware.
pub fn client_of(request_extensions: &axum::http::Extensions) -> String {
    request_extensions
        .get::<ClientAddr>()
        .map(|c| c.0.clone())
        .unwrap_or_else(|| "-".to_owned())
}
