//! The institution page: the user's institution(s), colleagues, and (for institution
//! administrators) the form to invite colleagues.

use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use renkei_domain::accounts::AccountRole;

/// One institution the user works at.
#[derive(Debug)]
pub struct InstitutionGroup {
    name: String,
    members: Vec<String>,
    can_invite: bool,
    options: Vec<(i64, String)>,
    /// The directory entry, when the organisation is one.
    institution_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "institution.html")]
struct InstitutionPage {
    chrome: Chrome,
    groups: Vec<InstitutionGroup>,
}

/// `GET /institution`.
pub async fn show(State(app): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let user = ctx
        .viewer
        .signed_in()
        .cloned()
        .ok_or_else(|| PageError::not_found(&ctx))?;
    let mut groups: Vec<InstitutionGroup> = Vec::new();
    for m in user.memberships.iter().filter(|m| {
        matches!(
            m.role,
            AccountRole::InstitutionAdmin | AccountRole::InstitutionStaff
        )
    }) {
        if groups.iter().any(|g| g.name == m.organisation.name) {
            continue;
        }
        let members = app
            .store
            .members_of(m.organisation.id)
            .await
            .map_err(|e| PageError::store(&ctx, e))?
            .into_iter()
            .map(|u| {
                let roles: Vec<&str> = u
                    .memberships
                    .iter()
                    .filter(|x| x.organisation.id == m.organisation.id)
                    .map(|x| x.role.label_ja())
                    .collect();
                format!(
                    "{}（{}）{}",
                    u.display_name,
                    roles.join("・"),
                    if u.disabled { " — 停止中" } else { "" }
                )
            })
            .collect();
        let can_invite = user.memberships.iter().any(|x| {
            x.role == AccountRole::InstitutionAdmin && x.organisation.id == m.organisation.id
        });
        groups.push(InstitutionGroup {
            name: m.organisation.name.clone(),
            members,
            can_invite,
            institution_id: m.organisation.institution_id,
            options: m
                .organisation
                .institution_id
                .map(|id| vec![(id, m.organisation.name.clone())])
                .unwrap_or_default(),
        });
    }
    let page = InstitutionPage {
        chrome: Chrome::new(&ctx, "nav.institution", false),
        groups,
    };
    Ok(render(&ctx, &page)?.into_response())
}
