//! Diagnostics: what tells the operator whether bosun can work here, apart from the
//! supervisor that does the work. [`doctor`] checks the machine, the database, the config,
//! the providers the stages use and bosun's file modes, each finding with its fix;
//! [`check`] (`bosun providers --check NAME`) drives the installed agent CLI through a short
//! session under a real supervisor against the scripted model server and says whether each
//! status was read right.

pub mod check;
pub mod doctor;
