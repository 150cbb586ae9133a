//! Server-rendered pages.

pub mod account;
pub mod admin;
pub mod area;
pub mod home;
pub mod hub;
pub mod institution;
pub mod invitations;
pub mod lang;
pub mod login;
pub mod message;
pub mod password;
