//! Errors of the analytics, each saying what was being computed.

use dnmscope_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The store failed while an indicator read from it.
    #[error("{action}")]
    Store {
        action: String,
        #[source]
        source: StoreError,
    },
    /// The caller's input was unusable (a bad filter value, a malformed rates file).
    #[error("{what}: {reason}")]
    Input { what: String, reason: String },
}

/// Adds "what was being computed" to a store error.
pub(crate) trait Context<T> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T, AnalyticsError>;
}

impl<T> Context<T> for Result<T, StoreError> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T, AnalyticsError> {
        self.map_err(|source| AnalyticsError::Store {
            action: action(),
            source,
        })
    }
}
