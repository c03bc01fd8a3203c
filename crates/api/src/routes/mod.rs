//! The API's routes, grouped by who uses them.

pub(crate) mod auth;
pub(crate) mod exports;
pub(crate) mod files;
pub(crate) mod health;
pub(crate) mod jobs;
pub(crate) mod journal;
pub(crate) mod me;
pub(crate) mod records;
pub(crate) mod requests;
pub(crate) mod subjects;
pub(crate) mod tenants;
pub(crate) mod users;
