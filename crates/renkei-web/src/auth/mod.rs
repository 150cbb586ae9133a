//! Authentication: who is asking (the [`Viewer`]), sessions in the database, CSRF protection,
//! login throttling, and the two-factor policy.

pub mod access;
pub mod client;
pub mod cookies;
pub mod device;
pub mod policy;
pub mod secrets;
pub mod session;
pub mod throttle;

pub use access::Access;
pub use session::Viewer;
