//! Parsing of submitted text into domain values, collecting one error per
//! field so a client can show them all at once.

use valv_domain::Invalid;

use crate::{FieldError, ServiceError};

/// Collects field errors while parsing a submitted form.
#[derive(Debug, Default)]
pub struct Form {
    errors: Vec<FieldError>,
}

impl Form {
    /// Parses `value` of `field` with `parse`, remembering a failure.
    pub fn parse<T>(&mut self, field: &str, value: &str, parse: fn(&str) -> Result<T, Invalid>) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(FieldError {
                    field: field.to_owned(),
                    code: format!("invalid_{}", e.kind),
                    message: format!("{field} {}", e.reason),
                });
                None
            }
        }
    }

    /// Parses an optional field.
    pub fn opt<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T, Invalid>,
    ) -> Option<Option<T>> {
        match value {
            None => Some(None),
            Some(v) => self.parse(field, v, parse).map(Some),
        }
    }

    /// Records a refusal that is not a parse failure.
    pub fn refuse(&mut self, field: &str, code: &str, message: &str) {
        self.errors.push(FieldError { field: field.into(), code: code.into(), message: message.into() });
    }

    /// Ends parsing: the values, or every error found.
    ///
    /// # Errors
    /// [`ServiceError::Validation`] when any field was refused.
    pub fn finish<T>(self, values: Option<T>) -> Result<T, ServiceError> {
        match values {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(ServiceError::Validation(self.errors)),
        }
    }
}
