//! Every route with its access rule, in one table. A route cannot be added without a rule, and
//! the router test walks this table with every role.

use crate::auth::access::{guard, Access};
use crate::pages::{
    account, admin, area, area_map, backup, bcp, beds, careteam, changes, conference, consultation,
    directory, events, freshness, home, hub, import, institution, invitations, lang, ledger,
    ledger_edit, ledger_texts, login, password, power, readiness, rota, safety, safety_dashboard,
    safety_exports, safety_phone, safety_response, safety_summary, surveys, urgent,
};
use crate::{assets, fhir, health, metrics, AppState};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use renkei_domain::accounts::AccountRole;

/// One route and who may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern, as axum writes it.
    pub path: &'static str,
    /// Who may use it.
    pub access: Access,
}

const ADMIN: &[AccountRole] = &[AccountRole::SystemAdmin];
const COORDINATORS: &[AccountRole] = &[AccountRole::HubCoordinator, AccountRole::SystemAdmin];
/// Those who edit a hub's ledger (the handlers check it is their own hub).
const HUB_EDITORS: &[AccountRole] = &[AccountRole::HubCoordinator];
const EDITORS: &[AccountRole] = &[
    AccountRole::InstitutionAdmin,
    AccountRole::InstitutionStaff,
    AccountRole::SystemAdmin,
];
const INVITERS: &[AccountRole] = &[
    AccountRole::SystemAdmin,
    AccountRole::HubCoordinator,
    AccountRole::InstitutionAdmin,
];
const INSTITUTION_STAFF: &[AccountRole] =
    &[AccountRole::InstitutionAdmin, AccountRole::InstitutionStaff];
const HUB_VIEWERS: &[AccountRole] = &[
    AccountRole::HubCoordinator,
    AccountRole::PrefectureViewer,
    AccountRole::SystemAdmin,
];

/// What a route that takes file uploads (larger bodies, multipart) takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// `/hub/import`: a directory file, from coordinators and the administrator.
    Directory,
    /// `/institutions/{id}/bcp/document`: a BCP as PDF, from institution staff.
    Bcp,
    /// `/patients/{id}/posts` and `/patients/{id}/consent`: photos and PDFs of the care team
    /// (a post's files, the signed consent form), from users with a second factor.
    CareFiles,
}

/// The largest body of a care-team form with files (the session layer holds others to less).
pub(crate) const CARE_FILES_LIMIT: usize = renkei_domain::careteam::MAX_ATTACHMENTS
    * renkei_domain::careteam::MAX_ATTACHMENT_BYTES
    + 64 * 1024;

/// The upload a path takes, if it takes one.
pub fn upload_of(path: &str) -> Option<Upload> {
    if path == "/hub/import" {
        return Some(Upload::Directory);
    }
    let number = |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = path.strip_prefix("/patients/") {
        let id = rest
            .strip_suffix("/posts")
            .or_else(|| rest.strip_suffix("/consent"))?;
        return number(id).then_some(Upload::CareFiles);
    }
    let id = path
        .strip_prefix("/institutions/")?
        .strip_suffix("/bcp/document")?;
    number(id).then_some(Upload::Bcp)
}

/// Whether a path takes uploads, so the session layer allows the larger body.
pub fn is_upload(path: &str) -> bool {
    upload_of(path).is_some()
}

struct Routes<'a> {
    state: &'a AppState,
    router: Router<AppState>,
    rules: Vec<RouteRule>,
}

impl Routes<'_> {
    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        let guarded = handler.layer(axum::middleware::from_fn_with_state(
            (self.state.clone(), access),
            guard,
        ));
        self.router = self.router.route(path, guarded);
        self.rules.push(RouteRule {
            method,
            path,
            access,
        });
        self
    }
}

/// The router (without the outer layers) and its rule table.
pub fn build(state: &AppState) -> (Router<AppState>, Vec<RouteRule>) {
    let routes = Routes {
        state,
        router: Router::new(),
        rules: Vec::new(),
    }
    // Public pages and machine endpoints.
    .add("GET", "/", Access::Public, get(home::show))
    .add("GET", "/areas/{code}", Access::Public, get(area::show))
    .add(
        "GET",
        "/areas/{code}/map",
        Access::Public,
        get(area_map::show),
    )
    .add("GET", "/directory", Access::Public, get(directory::search))
    .add(
        "GET",
        "/directory.csv",
        Access::Public,
        get(directory::export_csv),
    )
    .add(
        "GET",
        "/directory.xlsx",
        Access::Public,
        get(directory::export_xlsx),
    )
    .add(
        "GET",
        "/directory.geojson",
        Access::Public,
        get(directory::export_geojson),
    )
    .add(
        "GET",
        "/institutions/{id}",
        Access::Public,
        get(directory::detail),
    )
    .add("GET", "/lang/{lang}", Access::Public, get(lang::switch))
    .add("GET", "/healthz", Access::Public, get(health::healthz))
    .add("GET", "/metrics", Access::Public, get(metrics::render))
    .add("GET", "/static/{*file}", Access::Public, get(assets::serve))
    // The directory as FHIR R4 (IHE mCSD), public and read-only.
    .add("GET", "/fhir/metadata", Access::Public, get(fhir::metadata))
    // The prefecture report's counts (MeasureReport) are for those who read the reports;
    // programs use an API token. The Measure that defines them is public.
    .add(
        "GET",
        "/fhir/Measure/renkei-hub-report",
        Access::Public,
        get(fhir::measure_definition),
    )
    .add(
        "GET",
        "/fhir/MeasureReport",
        Access::Roles(HUB_VIEWERS),
        get(fhir::measure_report_search),
    )
    .add(
        "GET",
        "/fhir/MeasureReport/{id}",
        Access::Roles(HUB_VIEWERS),
        get(fhir::measure_report_read),
    )
    .add("GET", "/fhir/{kind}", Access::Public, get(fhir::search))
    // Search by POST (form body), as mCSD requires; GET on it answers the same.
    .add(
        "POST",
        "/fhir/{kind}/_search",
        Access::Public,
        post(fhir::search_post),
    )
    .add(
        "GET",
        "/fhir/{kind}/_search",
        Access::Public,
        get(fhir::search_post),
    )
    .add(
        "GET",
        "/fhir/{kind}/_history",
        Access::Public,
        get(fhir::history),
    )
    .add("GET", "/fhir/{kind}/{id}", Access::Public, get(fhir::read))
    // Login.
    .add("GET", "/login", Access::Public, get(login::form))
    .add("POST", "/login", Access::Public, post(login::submit))
    .add(
        "GET",
        "/login/two-factor",
        Access::SecondFactorStep,
        get(login::second_factor_form),
    )
    .add(
        "POST",
        "/login/two-factor",
        Access::SecondFactorStep,
        post(login::second_factor_submit),
    )
    .add("POST", "/logout", Access::AnySession, post(login::logout))
    // The user's own account.
    .add("GET", "/account", Access::SignedIn, get(account::show))
    .add(
        "POST",
        "/account/password",
        Access::SignedIn,
        post(account::change_password),
    )
    .add(
        "POST",
        "/account/logout-everywhere",
        Access::SignedIn,
        post(account::logout_everywhere),
    )
    .add(
        "GET",
        "/account/two-factor",
        Access::Enrolment,
        get(account::two_factor_setup),
    )
    .add(
        "POST",
        "/account/two-factor",
        Access::Enrolment,
        post(account::two_factor_confirm),
    )
    // Replacing the second factor (a new phone): the password and a current code first.
    .add(
        "POST",
        "/account/two-factor/replace",
        Access::SignedIn,
        post(account::two_factor_replace),
    )
    .add(
        "POST",
        "/account/two-factor/replace/confirm",
        Access::SignedIn,
        post(account::two_factor_replace_confirm),
    )
    .add(
        "POST",
        "/account/two-factor/disable",
        Access::SignedIn,
        post(account::two_factor_disable),
    )
    // Password reset and invitations (the link is the credential).
    .add(
        "GET",
        "/password/forgot",
        Access::Public,
        get(password::forgot_form),
    )
    .add(
        "POST",
        "/password/forgot",
        Access::Public,
        post(password::forgot_submit),
    )
    .add(
        "GET",
        "/password/reset/{token}",
        Access::Public,
        get(password::reset_form),
    )
    .add(
        "POST",
        "/password/reset/{token}",
        Access::Public,
        post(password::reset_submit),
    )
    .add(
        "GET",
        "/invite/{token}",
        Access::Public,
        get(invitations::show),
    )
    .add(
        "POST",
        "/invite/{token}",
        Access::Public,
        post(invitations::accept),
    )
    .add(
        "POST",
        "/invitations",
        Access::Roles(INVITERS),
        post(invitations::create),
    )
    // Institutions.
    .add(
        "GET",
        "/institution",
        Access::Roles(INSTITUTION_STAFF),
        get(institution::show),
    )
    // JSON API.
    .add(
        "GET",
        "/api/openapi.json",
        Access::Public,
        get(crate::openapi::serve),
    )
    .add("GET", "/api/v1/me", Access::SignedIn, get(crate::api::me))
    .add(
        "GET",
        "/api/v1/directory/near",
        Access::Public,
        get(crate::api::directory_near),
    )
    .add(
        "POST",
        "/account/api-tokens",
        Access::SignedIn,
        post(account::create_api_token),
    )
    .add(
        "POST",
        "/account/api-tokens/{id}/revoke",
        Access::SignedIn,
        post(account::revoke_api_token),
    )
    // Hubs.
    .add("GET", "/hub", Access::Roles(HUB_VIEWERS), get(hub::show))
    // Safety checks: the hub's side, and the response link (no login; the token is the key).
    .add(
        "GET",
        "/hub/safety",
        Access::Roles(HUB_VIEWERS),
        get(safety::list),
    )
    .add(
        "POST",
        "/hub/safety",
        Access::Roles(COORDINATORS),
        post(safety::create),
    )
    .add(
        "GET",
        "/hub/safety/new",
        Access::Roles(COORDINATORS),
        get(safety::new_form),
    )
    .add(
        "GET",
        "/hub/safety/{id}",
        Access::Roles(HUB_VIEWERS),
        get(safety_dashboard::show),
    )
    .add(
        "GET",
        "/hub/safety/{id}/events",
        Access::Roles(HUB_VIEWERS),
        get(safety_dashboard::events),
    )
    .add(
        "GET",
        "/hub/safety/{id}/export.csv",
        Access::Roles(HUB_VIEWERS),
        get(safety_exports::export_csv),
    )
    .add(
        "GET",
        "/hub/safety/{id}/export.xlsx",
        Access::Roles(HUB_VIEWERS),
        get(safety_exports::export_xlsx),
    )
    .add(
        "GET",
        "/hub/safety/{id}/summary",
        Access::Roles(HUB_VIEWERS),
        get(safety_summary::show),
    )
    .add(
        "POST",
        "/hub/safety/{id}/ledger",
        Access::Roles(COORDINATORS),
        post(safety_summary::record),
    )
    .add(
        "GET",
        "/hub/safety/{id}/cap.xml",
        Access::Roles(HUB_VIEWERS),
        get(safety_exports::cap),
    )
    .add(
        "GET",
        "/hub/safety/{id}/links",
        Access::Roles(COORDINATORS),
        get(safety_exports::links),
    )
    .add(
        "POST",
        "/hub/safety/{id}/remind",
        Access::Roles(COORDINATORS),
        post(safety::remind_all),
    )
    .add(
        "POST",
        "/hub/safety/{id}/close",
        Access::Roles(COORDINATORS),
        post(safety::close),
    )
    .add(
        "POST",
        "/hub/safety/{id}/targets/{target}/remind",
        Access::Roles(COORDINATORS),
        post(safety::remind_one),
    )
    .add(
        "GET",
        "/hub/safety/{id}/targets/{target}/phone",
        Access::Roles(COORDINATORS),
        get(safety_phone::phone_form),
    )
    .add(
        "POST",
        "/hub/safety/{id}/targets/{target}/phone",
        Access::Roles(COORDINATORS),
        post(safety_phone::save_phone),
    )
    .add(
        "GET",
        "/hub/readiness",
        Access::Roles(HUB_VIEWERS),
        get(readiness::hub),
    )
    .add(
        "GET",
        "/hub/readiness.csv",
        Access::Roles(HUB_VIEWERS),
        get(readiness::hub_csv),
    )
    .add(
        "GET",
        "/institutions/{id}/readiness",
        Access::SignedIn,
        get(readiness::show),
    )
    .add(
        "POST",
        "/institutions/{id}/readiness",
        Access::SignedIn,
        post(readiness::save),
    )
    .add(
        "GET",
        "/institutions/{id}/power",
        Access::SignedIn,
        get(power::show),
    )
    .add(
        "POST",
        "/institutions/{id}/power/units",
        Access::Roles(EDITORS),
        post(power::add_unit),
    )
    .add(
        "POST",
        "/institutions/{id}/power/units/{unit}",
        Access::Roles(EDITORS),
        post(power::edit_unit),
    )
    .add(
        "POST",
        "/institutions/{id}/power/units/{unit}/retire",
        Access::Roles(EDITORS),
        post(power::retire_unit),
    )
    .add(
        "POST",
        "/institutions/{id}/power/rules",
        Access::Roles(EDITORS),
        post(power::save_rules),
    )
    .add(
        "GET",
        "/institutions/{id}/power/borrow",
        Access::Roles(EDITORS),
        get(power::borrow_form),
    )
    .add(
        "POST",
        "/institutions/{id}/power/borrow",
        Access::Roles(EDITORS),
        post(power::borrow),
    )
    .add(
        "POST",
        "/power/lendings/{id}/decide",
        Access::Roles(EDITORS),
        post(power::decide),
    )
    .add(
        "POST",
        "/power/lendings/{id}/withdraw",
        Access::Roles(EDITORS),
        post(power::withdraw),
    )
    .add(
        "POST",
        "/power/lendings/{id}/return",
        Access::Roles(EDITORS),
        post(power::returned),
    )
    .add(
        "GET",
        "/hub/power",
        Access::Roles(HUB_VIEWERS),
        get(power::hub),
    )
    .add(
        "GET",
        "/institutions/{id}/backup",
        Access::SignedIn,
        get(backup::show),
    )
    .add(
        "POST",
        "/institutions/{id}/backup",
        Access::Roles(INSTITUTION_STAFF),
        post(backup::record),
    )
    .add(
        "POST",
        "/backup/absences/{id}/cancel",
        Access::Roles(INSTITUTION_STAFF),
        post(backup::cancel),
    )
    .add(
        "POST",
        "/backup/absences/{id}/ask",
        Access::Roles(INSTITUTION_STAFF),
        post(backup::ask),
    )
    .add(
        "POST",
        "/backup/coverages/{id}/decide",
        Access::Roles(INSTITUTION_STAFF),
        post(backup::decide),
    )
    .add(
        "POST",
        "/backup/coverages/{id}/withdraw",
        Access::Roles(INSTITUTION_STAFF),
        post(backup::withdraw),
    )
    .add(
        "GET",
        "/hub/backup",
        Access::Roles(HUB_VIEWERS),
        get(backup::hub),
    )
    .add(
        "GET",
        "/institutions/{id}/conferences",
        Access::SignedIn,
        get(conference::list),
    )
    .add(
        "POST",
        "/institutions/{id}/conferences",
        Access::Roles(INSTITUTION_STAFF),
        post(conference::create),
    )
    .add(
        "GET",
        "/conferences/{id}",
        Access::SignedIn,
        get(conference::show),
    )
    .add(
        "GET",
        "/conferences/{id}/invite.ics",
        Access::SignedIn,
        get(conference::calendar),
    )
    .add(
        "POST",
        "/conferences/{id}/answer",
        Access::Roles(INSTITUTION_STAFF),
        post(conference::answer),
    )
    .add(
        "POST",
        "/conferences/{id}/fix",
        Access::Roles(INSTITUTION_STAFF),
        post(conference::fix),
    )
    .add(
        "POST",
        "/conferences/{id}/cancel",
        Access::Roles(INSTITUTION_STAFF),
        post(conference::cancel),
    )
    .add("GET", "/patients", Access::SignedIn, get(careteam::list))
    .add(
        "GET",
        "/patients/new",
        Access::Roles(INSTITUTION_STAFF),
        get(careteam::new_form),
    )
    .add(
        "POST",
        "/patients/new",
        Access::Roles(INSTITUTION_STAFF),
        post(careteam::register),
    )
    .add(
        "GET",
        "/patients/{id}",
        Access::SignedIn,
        get(careteam::show),
    )
    .add(
        "GET",
        "/patients/{id}/fhir.json",
        Access::Roles(INSTITUTION_STAFF),
        get(careteam::fhir_export),
    )
    .add(
        "GET",
        "/patients/{id}/audit.json",
        Access::Roles(INSTITUTION_STAFF),
        get(careteam::audit_export),
    )
    .add(
        "GET",
        "/patients/{id}/summary",
        Access::Roles(INSTITUTION_STAFF),
        get(careteam::summary),
    )
    .add(
        "POST",
        "/patients/{id}/posts",
        Access::Roles(INSTITUTION_STAFF),
        post(careteam::post).layer(axum::extract::DefaultBodyLimit::max(CARE_FILES_LIMIT)),
    )
    .add(
        "GET",
        "/patients/{id}/files/{file}",
        Access::Roles(INSTITUTION_STAFF),
        get(careteam::file),
    )
    .add(
        "GET",
        "/institutions/{id}/ict-evidence",
        Access::Roles(INSTITUTION_STAFF),
        get(careteam::evidence),
    )
    .add(
        "GET",
        "/institutions/{id}/ict-evidence.csv",
        Access::Roles(INSTITUTION_STAFF),
        get(careteam::evidence_csv),
    )
    .add(
        "GET",
        "/institutions/{id}/ict-evidence.xlsx",
        Access::Roles(INSTITUTION_STAFF),
        get(careteam::evidence_xlsx),
    )
    .add(
        "POST",
        "/institutions/{id}/ict-evidence/special",
        Access::Roles(INSTITUTION_STAFF),
        post(careteam::special_relation),
    )
    .add(
        "POST",
        "/patients/{id}/consent",
        Access::Roles(INSTITUTION_STAFF),
        post(careteam::consent).layer(axum::extract::DefaultBodyLimit::max(CARE_FILES_LIMIT)),
    )
    .add(
        "POST",
        "/patients/{id}/consent/withdraw",
        Access::Roles(INSTITUTION_STAFF),
        post(careteam::withdraw),
    )
    .add(
        "POST",
        "/patients/{id}/team",
        Access::Roles(INSTITUTION_STAFF),
        post(careteam::invite),
    )
    .add(
        "POST",
        "/patients/{id}/team/{member}/remove",
        Access::Roles(INSTITUTION_STAFF),
        post(careteam::remove),
    )
    .add(
        "POST",
        "/patients/{id}/break-glass",
        Access::Roles(HUB_EDITORS),
        post(careteam::break_glass),
    )
    .add(
        "GET",
        "/hub/patients",
        Access::Roles(HUB_EDITORS),
        get(careteam::glass),
    )
    .add(
        "POST",
        "/hub/patients",
        Access::Roles(HUB_EDITORS),
        post(careteam::glass_search),
    )
    .add(
        "POST",
        "/hub/patients/review/{id}",
        Access::Roles(HUB_EDITORS),
        post(careteam::review_glass),
    )
    .add("GET", "/beds", Access::SignedIn, get(beds::board))
    .add(
        "GET",
        "/institutions/{id}/beds",
        Access::SignedIn,
        get(beds::show),
    )
    .add(
        "POST",
        "/institutions/{id}/beds",
        Access::Roles(INSTITUTION_STAFF),
        post(beds::save),
    )
    .add("GET", "/rota", Access::SignedIn, get(rota::list))
    .add(
        "POST",
        "/rota",
        Access::Roles(INSTITUTION_STAFF),
        post(rota::create),
    )
    .add("GET", "/rota/{id}", Access::SignedIn, get(rota::show))
    .add(
        "GET",
        "/rota/{id}/calendar.ics",
        Access::SignedIn,
        get(rota::calendar),
    )
    .add(
        "POST",
        "/rota/{id}/shifts",
        Access::Roles(INSTITUTION_STAFF),
        post(rota::assign),
    )
    .add(
        "POST",
        "/rota/{id}/shifts/{shift}/remove",
        Access::Roles(INSTITUTION_STAFF),
        post(rota::remove_shift),
    )
    .add(
        "POST",
        "/rota/{id}/members",
        Access::Roles(INSTITUTION_STAFF),
        post(rota::add_member),
    )
    .add(
        "POST",
        "/rota/{id}/join",
        Access::Roles(INSTITUTION_STAFF),
        post(rota::join),
    )
    .add(
        "POST",
        "/rota/{id}/leave",
        Access::Roles(INSTITUTION_STAFF),
        post(rota::leave),
    )
    .add("GET", "/urgent", Access::SignedIn, get(urgent::entry))
    .add("GET", "/urgent/{id}", Access::SignedIn, get(urgent::show))
    .add(
        "GET",
        "/urgent/{id}/events",
        Access::SignedIn,
        get(urgent::request_events),
    )
    .add(
        "POST",
        "/urgent/{id}/accept",
        Access::Roles(INSTITUTION_STAFF),
        post(urgent::accept),
    )
    .add(
        "POST",
        "/urgent/{id}/decline",
        Access::Roles(INSTITUTION_STAFF),
        post(urgent::decline),
    )
    .add(
        "POST",
        "/urgent/{id}/cancel",
        Access::Roles(INSTITUTION_STAFF),
        post(urgent::cancel),
    )
    .add(
        "POST",
        "/urgent/{id}/widen",
        Access::Roles(INSTITUTION_STAFF),
        post(urgent::widen),
    )
    .add(
        "GET",
        "/institutions/{id}/urgent",
        Access::SignedIn,
        get(urgent::inbox),
    )
    .add(
        "GET",
        "/institutions/{id}/urgent/events",
        Access::SignedIn,
        get(urgent::inbox_events),
    )
    .add(
        "GET",
        "/institutions/{id}/urgent/new",
        Access::Roles(INSTITUTION_STAFF),
        get(urgent::new_form),
    )
    .add(
        "POST",
        "/institutions/{id}/urgent/new",
        Access::Roles(INSTITUTION_STAFF),
        post(urgent::create),
    )
    .add(
        "GET",
        "/hub/urgent",
        Access::Roles(HUB_VIEWERS),
        get(urgent::hub),
    )
    // Events: the public calendar and registration for everyone; the hub's side for the
    // area's coordinators.
    .add("GET", "/events", Access::Public, get(events::calendar))
    .add("GET", "/events/{id}", Access::Public, get(events::show))
    .add(
        "POST",
        "/events/{id}/register",
        Access::Public,
        post(events::register),
    )
    .add(
        "GET",
        "/events/registration/{token}",
        Access::Public,
        get(events::registration),
    )
    .add(
        "POST",
        "/events/registration/{token}",
        Access::Public,
        post(events::cancel),
    )
    .add(
        "GET",
        "/hub/events",
        Access::Roles(HUB_EDITORS),
        get(events::hub),
    )
    .add(
        "POST",
        "/hub/events",
        Access::Roles(HUB_EDITORS),
        post(events::create),
    )
    .add(
        "GET",
        "/hub/events/{id}",
        Access::Roles(HUB_EDITORS),
        get(events::hub_event),
    )
    .add(
        "POST",
        "/hub/events/{id}/attendance/{registration}",
        Access::Roles(HUB_EDITORS),
        post(events::attendance),
    )
    .add(
        "GET",
        "/hub/events/{id}/registrations.csv",
        Access::Roles(HUB_EDITORS),
        get(events::registrations_csv),
    )
    .add(
        "POST",
        "/hub/events/ledger",
        Access::Roles(HUB_EDITORS),
        post(events::record_in_ledger),
    )
    // Surveys: built, sent and followed by the area's coordinators; answered by whoever got
    // the signed link, without signing in.
    .add(
        "GET",
        "/hub/surveys",
        Access::Roles(HUB_EDITORS),
        get(surveys::list),
    )
    .add(
        "POST",
        "/hub/surveys",
        Access::Roles(HUB_EDITORS),
        post(surveys::create),
    )
    .add(
        "GET",
        "/hub/surveys/{id}",
        Access::Roles(HUB_EDITORS),
        get(surveys::show),
    )
    .add(
        "POST",
        "/hub/surveys/{id}/heading",
        Access::Roles(HUB_EDITORS),
        post(surveys::build::heading),
    )
    .add(
        "POST",
        "/hub/surveys/{id}/questions",
        Access::Roles(HUB_EDITORS),
        post(surveys::build::add_question),
    )
    .add(
        "POST",
        "/hub/surveys/{id}/questions/change",
        Access::Roles(HUB_EDITORS),
        post(surveys::build::change_question),
    )
    .add(
        "POST",
        "/hub/surveys/{id}/send",
        Access::Roles(HUB_EDITORS),
        post(surveys::build::send),
    )
    .add(
        "GET",
        "/hub/surveys/{id}/preview",
        Access::Roles(HUB_EDITORS),
        get(surveys::answer::preview),
    )
    .add(
        "POST",
        "/hub/surveys/{id}/remind",
        Access::Roles(HUB_EDITORS),
        post(surveys::track::remind),
    )
    .add(
        "POST",
        "/hub/surveys/{id}/close",
        Access::Roles(HUB_EDITORS),
        post(surveys::track::close),
    )
    .add(
        "GET",
        "/hub/surveys/{id}/results.xlsx",
        Access::Roles(HUB_EDITORS),
        get(surveys::track::xlsx),
    )
    .add(
        "POST",
        "/hub/surveys/{id}/ledger",
        Access::Roles(HUB_EDITORS),
        post(surveys::track::record_in_ledger),
    )
    .add(
        "POST",
        "/hub/events/{id}/survey",
        Access::Roles(HUB_EDITORS),
        post(surveys::build::for_event),
    )
    .add(
        "GET",
        "/surveys/answer/{token}",
        Access::Public,
        get(surveys::answer::form_page),
    )
    .add(
        "POST",
        "/surveys/answer/{token}",
        Access::Public,
        post(surveys::answer::submit),
    )
    // The consultation window: the notes are the hub's own (coordinators of the area only);
    // the figures are for the prefecture and the administrator too.
    .add(
        "GET",
        "/hub/consultations",
        Access::Roles(HUB_EDITORS),
        get(consultation::list),
    )
    .add(
        "POST",
        "/hub/consultations",
        Access::Roles(HUB_EDITORS),
        post(consultation::create),
    )
    .add(
        "POST",
        "/hub/consultations/{id}/done",
        Access::Roles(HUB_EDITORS),
        post(consultation::follow_up_done),
    )
    .add(
        "GET",
        "/hub/consultations.csv",
        Access::Roles(HUB_EDITORS),
        get(consultation::csv),
    )
    .add(
        "GET",
        "/hub/consultations.xlsx",
        Access::Roles(HUB_EDITORS),
        get(consultation::xlsx),
    )
    .add(
        "GET",
        "/hub/consultations/stats",
        Access::Roles(HUB_VIEWERS),
        get(consultation::stats),
    )
    .add(
        "POST",
        "/hub/consultations/ledger",
        Access::Roles(HUB_EDITORS),
        post(consultation::record_in_ledger),
    )
    .add(
        "POST",
        "/hub/urgent/ledger",
        Access::Roles(COORDINATORS),
        post(urgent::record_in_ledger),
    )
    .add(
        "GET",
        "/institutions/{id}/bcp",
        Access::SignedIn,
        get(bcp::show),
    )
    .add(
        "POST",
        "/institutions/{id}/bcp",
        Access::Roles(EDITORS),
        post(bcp::save),
    )
    .add(
        "POST",
        "/institutions/{id}/bcp/document",
        Access::Roles(EDITORS),
        post(bcp::upload).layer(axum::extract::DefaultBodyLimit::max(
            renkei_domain::readiness::MAX_BCP_BYTES + 64 * 1024,
        )),
    )
    .add(
        "POST",
        "/institutions/{id}/bcp/partners",
        Access::Roles(EDITORS),
        post(bcp::partners),
    )
    .add(
        "GET",
        "/bcp/documents/{doc}",
        Access::SignedIn,
        get(bcp::document),
    )
    .add(
        "GET",
        "/r/{token}",
        Access::Public,
        get(safety_response::quick),
    )
    .add(
        "POST",
        "/r/{token}",
        Access::Public,
        post(safety_response::save_quick),
    )
    .add(
        "GET",
        "/r/{token}/details",
        Access::Public,
        get(safety_response::details),
    )
    .add(
        "POST",
        "/r/{token}/details",
        Access::Public,
        post(safety_response::save_details),
    )
    .add(
        "GET",
        "/r/{token}/done",
        Access::Public,
        get(safety_response::done),
    )
    .add(
        "GET",
        "/ledger",
        Access::Roles(HUB_VIEWERS),
        get(ledger::index),
    )
    .add(
        "GET",
        "/ledger/{year}/{area}",
        Access::Roles(HUB_VIEWERS),
        get(ledger_edit::show),
    )
    .add(
        "GET",
        "/ledger/{year}/{area}/item",
        Access::Roles(HUB_EDITORS),
        get(ledger_edit::new_item),
    )
    .add(
        "POST",
        "/ledger/{year}/{area}/item",
        Access::Roles(HUB_EDITORS),
        post(ledger_edit::save_item),
    )
    .add(
        "GET",
        "/ledger/{year}/{area}/item/{id}",
        Access::Roles(HUB_EDITORS),
        get(ledger_edit::edit_item),
    )
    .add(
        "POST",
        "/ledger/{year}/{area}/item/{id}/delete",
        Access::Roles(HUB_EDITORS),
        post(ledger_edit::delete_item),
    )
    .add(
        "POST",
        "/ledger/{year}/{area}/item/{id}/move",
        Access::Roles(HUB_EDITORS),
        post(ledger_edit::move_item),
    )
    .add(
        "POST",
        "/ledger/{year}/{area}/next-year",
        Access::Roles(HUB_EDITORS),
        post(ledger_edit::next_year),
    )
    .add(
        "GET",
        "/ledger/{year}/{area}/texts",
        Access::Roles(HUB_EDITORS),
        get(ledger_texts::texts),
    )
    .add(
        "POST",
        "/ledger/{year}/{area}/texts",
        Access::Roles(HUB_EDITORS),
        post(ledger_texts::save_texts),
    )
    .add(
        "GET",
        "/ledger/{year}/compare",
        Access::Roles(HUB_VIEWERS),
        get(ledger::compare),
    )
    .add(
        "GET",
        "/ledger/{year}/report",
        Access::Roles(HUB_VIEWERS),
        get(ledger::report_page),
    )
    .add(
        "GET",
        "/ledger/{year}/report.html",
        Access::Roles(HUB_VIEWERS),
        get(ledger::report_html),
    )
    .add(
        "GET",
        "/ledger/{year}/report.xlsx",
        Access::Roles(HUB_VIEWERS),
        get(ledger::report_xlsx),
    )
    .add(
        "GET",
        "/ledger/{year}/report.md",
        Access::Roles(HUB_VIEWERS),
        get(ledger::report_markdown),
    )
    .add(
        "GET",
        "/hub/stale",
        Access::Roles(COORDINATORS),
        get(freshness::list),
    )
    .add(
        "GET",
        "/hub/import",
        Access::Roles(COORDINATORS),
        get(import::form),
    )
    .add(
        "POST",
        "/hub/import",
        Access::Roles(COORDINATORS),
        post(import::check).layer(axum::extract::DefaultBodyLimit::max(
            import::MAX_FILE_BYTES + 1024 * 1024,
        )),
    )
    .add(
        "POST",
        "/hub/import/{key}/apply",
        Access::Roles(COORDINATORS),
        post(import::apply),
    )
    .add(
        "GET",
        "/hub/import/{key}",
        Access::Roles(COORDINATORS),
        get(import::progress),
    )
    .add(
        "POST",
        "/hub/stale/{id}/remind",
        Access::Roles(COORDINATORS),
        post(freshness::remind),
    )
    .add(
        "GET",
        "/confirm/{token}",
        Access::Public,
        get(freshness::show),
    )
    .add(
        "POST",
        "/confirm/{token}",
        Access::Public,
        post(freshness::confirm),
    )
    .add(
        "GET",
        "/institutions/{id}/edit",
        Access::Roles(EDITORS),
        get(changes::edit_form),
    )
    .add(
        "POST",
        "/institutions/{id}/edit",
        Access::Roles(EDITORS),
        post(changes::propose),
    )
    .add(
        "GET",
        "/hub/changes",
        Access::Roles(COORDINATORS),
        get(changes::review),
    )
    .add(
        "POST",
        "/hub/changes/{id}/approve",
        Access::Roles(COORDINATORS),
        post(changes::approve),
    )
    .add(
        "POST",
        "/hub/changes/{id}/reject",
        Access::Roles(COORDINATORS),
        post(changes::reject),
    )
    // Administration.
    .add(
        "GET",
        "/admin/users",
        Access::Roles(ADMIN),
        get(admin::users),
    )
    .add(
        "POST",
        "/admin/users/{id}/disable",
        Access::Roles(ADMIN),
        post(admin::disable_user),
    )
    .add(
        "POST",
        "/admin/users/{id}/enable",
        Access::Roles(ADMIN),
        post(admin::enable_user),
    )
    .add(
        "POST",
        "/admin/users/{id}/reset-two-factor",
        Access::Roles(ADMIN),
        post(admin::reset_two_factor),
    )
    .add(
        "GET",
        "/admin/audit",
        Access::Roles(ADMIN),
        get(admin::audit_page),
    )
    .add(
        "GET",
        "/admin/audit.csv",
        Access::Roles(ADMIN),
        get(admin::audit_csv),
    )
    .add(
        "POST",
        "/admin/policy",
        Access::Roles(ADMIN),
        post(admin::set_policy),
    )
    .add(
        "GET",
        "/admin/outbox",
        Access::Roles(ADMIN),
        get(admin::outbox),
    );
    (routes.router, routes.rules)
}

/// The rule table alone.
pub fn table(state: &AppState) -> Vec<RouteRule> {
    build(state).1
}

#[cfg(test)]
mod tests {
    use super::{upload_of, Upload};

    #[test]
    fn only_the_upload_forms_take_large_bodies() {
        assert_eq!(upload_of("/hub/import"), Some(Upload::Directory));
        assert_eq!(
            upload_of("/institutions/12/bcp/document"),
            Some(Upload::Bcp)
        );
        assert_eq!(upload_of("/patients/7/posts"), Some(Upload::CareFiles));
        assert_eq!(upload_of("/patients/7/consent"), Some(Upload::CareFiles));
        for other in [
            "/patients/7/consent/withdraw",
            "/patients/x/posts",
            "/patients//posts",
            "/patients/7/team",
            "/institutions/12/bcp",
            "/institutions/a/bcp/document",
        ] {
            assert_eq!(upload_of(other), None, "{other}");
        }
    }
}
