//! Institutions keep their own entries: their staff propose changes, the hub coordinator of the
//! area sees them side by side with the current entry and approves or rejects them with a reason.
//! Nothing reaches the public page before approval; every approved version is kept.

use crate::auth::access::client_of;
use crate::chrome::Chrome;
use crate::clock::jst_text;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::pages::message::message;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use renkei_domain::accounts::AccountRole;
use renkei_domain::audit::Outcome;
use renkei_domain::capability::Capability;
use renkei_domain::institution::{
    Details, LocationPrecision, PlacedPoint, PublicFields, RoleEntry,
};
use renkei_domain::readiness::{BcpStatus, EmergencyPower, PowerKind};
use renkei_domain::region::{Role, RoleStatus};
use renkei_store::accounts::User;
use renkei_store::audit::AuditEvent;
use serde::Deserialize;

/// Whether `user` works at the institution (or administers the system).
pub fn may_edit(user: &User, institution_id: i64) -> bool {
    user.memberships.iter().any(|m| match m.role {
        AccountRole::SystemAdmin => true,
        AccountRole::InstitutionAdmin | AccountRole::InstitutionStaff => {
            m.organisation.institution_id == Some(institution_id)
        }
        _ => false,
    })
}

/// Whether `user` decides changes in `area`.
pub fn may_decide(user: &User, area: &str) -> bool {
    user.memberships.iter().any(|m| match m.role {
        AccountRole::SystemAdmin => true,
        AccountRole::HubCoordinator => m.organisation.area_code.as_deref() == Some(area),
        _ => false,
    })
}

#[derive(Template)]
#[template(path = "edit_entry.html")]
struct EditPage {
    chrome: Chrome,
    id: i64,
    f: PublicFields,
    caps: Vec<(&'static str, &'static str, bool)>,
    /// (code, label, selected) of the power kinds.
    power_kinds: Vec<(&'static str, &'static str, bool)>,
    /// (code, label, selected) of the BCP statuses.
    bcp_statuses: Vec<(&'static str, &'static str, bool)>,
    /// Per role: (code, label, statuses (code, label, selected), plan); empty when the
    /// institution is not an active institution.
    roles: Vec<RoleRow>,
    lat: String,
    lng: String,
    precision: String,
    pending: bool,
    error: Option<String>,
}

/// One role's row on the edit form.
struct RoleRow {
    code: &'static str,
    label: String,
    statuses: Vec<(&'static str, &'static str, bool)>,
    plan: String,
}

fn edit_page(
    ctx: &Ctx,
    id: i64,
    f: PublicFields,
    is_active: bool,
    pending: bool,
    error: Option<String>,
) -> EditPage {
    let caps = Capability::ALL
        .iter()
        .map(|c| {
            (
                c.code(),
                c.label_ja(),
                f.capabilities.iter().any(|x| x == c.code()),
            )
        })
        .collect();
    let en = ctx.lang == crate::i18n::Lang::En;
    let power_kinds = PowerKind::ALL
        .iter()
        .map(|k| {
            (
                k.code(),
                if en { k.label_en() } else { k.label_ja() },
                *k == f.details.power.kind,
            )
        })
        .collect();
    let bcp_statuses = BcpStatus::ALL
        .iter()
        .map(|b| {
            (
                b.code(),
                if en { b.label_en() } else { b.label_ja() },
                *b == f.details.bcp,
            )
        })
        .collect();
    let roles = if is_active {
        Role::ALL
            .iter()
            .map(|role| {
                let current = f.roles.iter().find(|r| r.role == *role);
                RoleRow {
                    code: role.code(),
                    label: format!(
                        "{} {}",
                        role.circled(),
                        if en { role.label_en() } else { role.label_ja() }
                    ),
                    statuses: RoleStatus::ALL
                        .iter()
                        .map(|s| {
                            (
                                s.code(),
                                s.label_ja(),
                                current.is_some_and(|c| c.status == *s),
                            )
                        })
                        .collect(),
                    plan: current.and_then(|c| c.plan.clone()).unwrap_or_default(),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    EditPage {
        chrome: Chrome::new(ctx, "nav.institution", false),
        id,
        lat: f
            .location
            .map(|p| format!("{:.6}", p.lat))
            .unwrap_or_default(),
        lng: f
            .location
            .map(|p| format!("{:.6}", p.lng))
            .unwrap_or_default(),
        precision: f
            .location
            .map(|p| p.precision.label_ja().to_owned())
            .unwrap_or_default(),
        f,
        caps,
        power_kinds,
        bcp_statuses,
        roles,
        pending,
        error,
    }
}

/// The public fields typed into the edit form. Coordinates left as they were keep their
/// precision; new ones count as given; none at all are taken from the address's town.
fn typed_fields(
    pairs: &[(String, String)],
    current: &PublicFields,
) -> Result<PublicFields, String> {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let some = |name: &str| Some(field(name));
    let number = |name: &str| -> Result<Option<f64>, String> {
        let text = renkei_domain::text::normalize(&field(name));
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<f64>().map(Some).map_err(|_| {
            format!(
                "「{text}」は数値ではありません（緯度・経度は 34.6270 のように入力してください）"
            )
        })
    };
    let address = field("address");
    let location = match (number("lat")?, number("lng")?) {
        (Some(lat), Some(lng)) => {
            let unchanged = current
                .location
                .is_some_and(|p| (p.lat - lat).abs() < 5e-7 && (p.lng - lng).abs() < 5e-7);
            Some(match current.location {
                Some(p) if unchanged => p,
                _ => PlacedPoint {
                    lat,
                    lng,
                    precision: LocationPrecision::Given,
                },
            })
        }
        (None, None) => {
            let by_town = crate::pages::directory::located(&address)
                .map(|(_, lat, lng)| (lat, lng, LocationPrecision::Town));
            let by_postcode = || {
                crate::pages::directory::located(&field("postcode"))
                    .map(|(_, lat, lng)| (lat, lng, LocationPrecision::Postcode))
            };
            by_town
                .or_else(by_postcode)
                .map(|(lat, lng, precision)| PlacedPoint {
                    lat,
                    lng,
                    precision,
                })
        }
        _ => return Err("緯度と経度は両方入力するか、両方空にしてください".into()),
    };
    let mut roles = Vec::new();
    for role in Role::ALL {
        let Some(status) = RoleStatus::from_code(&field(&format!("role_{}", role.code()))) else {
            continue;
        };
        roles.push(RoleEntry {
            role,
            status,
            plan: some(&format!("plan_{}", role.code())),
        });
    }
    Ok(PublicFields {
        name: field("name"),
        name_kana: field("name_kana"),
        postcode: some("postcode"),
        address,
        phone: some("phone"),
        capabilities: pairs
            .iter()
            .filter(|(k, _)| k == "cap")
            .map(|(_, v)| v.clone())
            .collect(),
        details: Details {
            medical_code: some("medical_code"),
            fax: some("fax"),
            website: some("website"),
            hours: some("hours"),
            contact_person: some("contact_person"),
            power: EmergencyPower {
                kind: PowerKind::parse(&field("power_kind")).unwrap_or_default(),
                capacity: some("power_capacity"),
                lendable: field("power_lendable") == "1",
            },
            bcp: BcpStatus::parse(&field("bcp")).unwrap_or_default(),
        },
        location,
        roles,
    })
}

/// `GET /institutions/{id}/edit`.
pub async fn edit_form(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .cloned()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    if !may_edit(&user, id) {
        return message(
            &ctx,
            StatusCode::FORBIDDEN,
            "error.forbidden_title",
            &["changes.not_yours"],
            &[],
            "/institution",
            "error.go_home",
        );
    }
    let err = |e| PageError::store(&ctx, e);
    let pending = app.store.changes("pending", Some(id)).await.map_err(err)?;
    let is_active = app
        .store
        .institution_detail(id)
        .await
        .map_err(err)?
        .is_some_and(|d| d.hit.is_active);
    let fields = match pending.last() {
        Some(change) => change.fields.clone(),
        None => app
            .store
            .public_fields(id)
            .await
            .map_err(err)?
            .ok_or_else(|| PageError::not_found(&ctx))?,
    };
    Ok(render(
        &ctx,
        &edit_page(&ctx, id, fields, is_active, !pending.is_empty(), None),
    )?
    .into_response())
}

/// `POST /institutions/{id}/edit` (form fields plus repeated `cap`).
pub async fn propose(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .cloned()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    if !may_edit(&user, id) {
        return message(
            &ctx,
            StatusCode::FORBIDDEN,
            "error.forbidden_title",
            &["changes.not_yours"],
            &[],
            "/institution",
            "error.go_home",
        );
    }
    let err = |e| PageError::store(&ctx, e);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let detail = app
        .store
        .institution_detail(id)
        .await
        .map_err(err)?
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let current = detail.fields.clone();
    let is_active = detail.hit.is_active;
    let has_beds = detail.has_beds;
    let refuse = |typed: PublicFields, problem: String| -> Result<Response, PageError> {
        let page = edit_page(&ctx, id, typed, is_active, false, Some(problem));
        Ok((StatusCode::BAD_REQUEST, render(&ctx, &page)?).into_response())
    };
    let typed = match typed_fields(&pairs, &current) {
        Ok(typed) => typed,
        Err(problem) => return refuse(current, problem),
    };
    let fields = match typed
        .clone()
        .cleaned()
        .and_then(|f| f.check_roles(is_active, has_beds).map(|()| f))
    {
        Ok(f) => f,
        Err(e) => return refuse(typed, e.to_string()),
    };
    if fields.diff(&current).is_empty() {
        return message(
            &ctx,
            StatusCode::OK,
            "changes.nothing_title",
            &["changes.nothing"],
            &[],
            &format!("/institutions/{id}"),
            "stale.see_entry",
        );
    }
    let change = app
        .store
        .propose_change(id, user.id, &fields)
        .await
        .map_err(err)?;
    let event = AuditEvent::new(
        Some(user.id),
        "directory.change.propose",
        Outcome::Ok,
        format!("institution:{id}"),
        client_of(&extensions),
    )
    .with_details(serde_json::json!({ "change": change }).to_string());
    let _ = app.store.append_audit(&event).await;
    notify_coordinators(&app, id, &current.name)
        .await
        .map_err(err)?;
    message(
        &ctx,
        StatusCode::OK,
        "changes.proposed_title",
        &["changes.proposed"],
        &[],
        &format!("/institutions/{id}"),
        "stale.see_entry",
    )
}

/// Mails the coordinators of the entry's area that a change waits for them.
async fn notify_coordinators(
    app: &AppState,
    institution_id: i64,
    name: &str,
) -> Result<(), renkei_store::StoreError> {
    let Some(brief) = app.store.institution_brief(institution_id).await? else {
        return Ok(());
    };
    let link = format!(
        "{}/hub/changes",
        app.config.public_url.trim_end_matches('/')
    );
    for user in app.store.users().await?.iter().filter(|u| !u.disabled) {
        let coordinates = user.memberships.iter().any(|m| {
            m.role == AccountRole::HubCoordinator
                && m.organisation.area_code.as_deref() == Some(brief.area_code.as_str())
        });
        if coordinates {
            let body = format!("{name} から掲載情報の変更の申請がありました。内容を確認して承認または差し戻してください。\n\n{link}\n\n---\n{name} proposed a change to its directory entry. Please review it at the link above.\n");
            app.mailer
                .send(
                    &app.store,
                    &user.email,
                    &format!("【Renkei】掲載情報の変更申請（{name}）"),
                    &body,
                )
                .await?;
        }
    }
    Ok(())
}

/// A change as reviewed.
#[derive(Debug)]
pub struct ChangeRow {
    id: i64,
    institution_id: i64,
    name: String,
    by: String,
    at: String,
    diff: Vec<(&'static str, String, String)>,
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    chrome: Chrome,
    rows: Vec<ChangeRow>,
}

/// `GET /hub/changes`: pending changes of the coordinator's areas, field by field.
pub async fn review(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .cloned()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let changes = app
        .store
        .changes("pending", None)
        .await
        .map_err(|e| PageError::store(&ctx, e))?;
    let rows = changes
        .into_iter()
        .filter(|c| may_decide(&user, &c.area_code))
        .map(|c| ChangeRow {
            diff: c.fields.diff(&c.previous),
            id: c.id,
            institution_id: c.institution_id,
            name: c.institution_name,
            by: c.proposed_by.unwrap_or_default(),
            at: jst_text(&c.proposed_at),
        })
        .collect();
    Ok(render(
        &ctx,
        &ChangesPage {
            chrome: Chrome::new(&ctx, "nav.hub", false),
            rows,
        },
    )?
    .into_response())
}

async fn decidable(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<Option<(User, renkei_store::changes::Change)>, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .cloned()
        .ok_or_else(|| PageError::not_found(ctx))?;
    let Some(change) = app
        .store
        .change(id)
        .await
        .map_err(|e| PageError::store(ctx, e))?
    else {
        return Err(PageError::not_found(ctx));
    };
    Ok(may_decide(&user, &change.area_code).then_some((user, change)))
}

/// The answer when the user may not decide this change.
fn not_yours(ctx: &Ctx) -> Result<Response, PageError> {
    message(
        ctx,
        StatusCode::FORBIDDEN,
        "error.forbidden_title",
        &["invite.not_yours"],
        &[],
        "/hub/changes",
        "stale.back",
    )
}

/// The answer when the change was decided (or withdrawn) meanwhile.
fn already_decided(ctx: &Ctx) -> Result<Response, PageError> {
    message(
        ctx,
        StatusCode::CONFLICT,
        "changes.decided_title",
        &["changes.decided"],
        &[],
        "/hub/changes",
        "stale.back",
    )
}

/// Records a decision in the audit log and returns to the list.
async fn decided(
    app: &AppState,
    user: &User,
    action: &str,
    change: &renkei_store::changes::Change,
    client: String,
) -> Response {
    let event = AuditEvent::new(
        Some(user.id),
        action,
        Outcome::Ok,
        format!("institution:{}", change.institution_id),
        client,
    )
    .with_details(serde_json::json!({ "change": change.id }).to_string());
    let _ = app.store.append_audit(&event).await;
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/hub/changes")]).into_response()
}

/// `POST /hub/changes/{id}/approve`.
pub async fn approve(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let Some((user, change)) = decidable(&app, &ctx, id).await? else {
        return not_yours(&ctx);
    };
    if !app
        .store
        .approve_change(id, user.id)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return already_decided(&ctx);
    }
    app.directory_changed().await;
    Ok(decided(
        &app,
        &user,
        "directory.change.approve",
        &change,
        client_of(&extensions),
    )
    .await)
}

/// The rejection form.
#[derive(Debug, Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    reason: String,
}

/// `POST /hub/changes/{id}/reject`: a reason is required, so the institution knows what to fix.
pub async fn reject(
    State(app): State<AppState>,
    ctx: Ctx,
    extensions: Extensions,
    Path(id): Path<i64>,
    Form(form): Form<RejectForm>,
) -> Result<Response, PageError> {
    let Some((user, change)) = decidable(&app, &ctx, id).await? else {
        return not_yours(&ctx);
    };
    let reason = renkei_domain::text::normalize(&form.reason);
    if reason.is_empty() {
        return message(
            &ctx,
            StatusCode::BAD_REQUEST,
            "changes.reason_title",
            &["changes.reason_needed"],
            &[],
            "/hub/changes",
            "stale.back",
        );
    }
    if !app
        .store
        .reject_change(id, user.id, &reason)
        .await
        .map_err(|e| PageError::store(&ctx, e))?
    {
        return already_decided(&ctx);
    }
    if let Some(email) = &change.proposed_by {
        let body = format!(
            "{}の掲載情報の変更申請は差し戻されました。理由：{reason}\n\n---\nYour proposed change was returned. Reason: {reason}\n",
            change.institution_name
        );
        let _ = app
            .mailer
            .send(
                &app.store,
                email,
                "【Renkei】掲載情報の変更申請の差し戻し",
                &body,
            )
            .await;
    }
    Ok(decided(
        &app,
        &user,
        "directory.change.reject",
        &change,
        client_of(&extensions),
    )
    .await)
}
