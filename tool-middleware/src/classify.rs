//! How an error becomes `error.type`: shared by every AITrace layer, so this is
//! [`aitrace_core::classify`] re-exported.

pub use aitrace_core::classify::{ClassifyError, DefaultClassifier};
