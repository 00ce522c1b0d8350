//! Work from the trackers (issue 21): webhook deliveries and polls of GitHub, Gitea, Forgejo
//! and Plane turned into tasks — exactly one per issue — with status reported back on the
//! issue and decisions taken from allow-listed users' comments.

pub mod apply;
pub mod events;
pub mod report;
pub mod signature;
pub mod status;
