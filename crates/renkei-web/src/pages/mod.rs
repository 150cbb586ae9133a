//! Server-rendered pages.

pub mod area;
pub mod home;
pub mod lang;
