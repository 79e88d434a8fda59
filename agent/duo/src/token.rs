//! A secret that never prints.

use serde::{Deserialize, Deserializer};

/// A GitLab or Duo Workflow Service token.
///
/// `Debug` prints `Token(<redacted>)` and there is no `Display`, so a token cannot end up in
/// a log line, an error message or a panic by accident; [`Token::expose`] is the one way to
/// read it, for the code that puts it into a request header.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token read from the environment, a config file or an API response.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for a request header. Never format it into text a user can see.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value of an `Authorization` header carrying this token.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Replaces every occurrence of the secret in `text`, for messages that quote a server.
    pub(crate) fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_owned();
        }
        text.replace(&self.0, "<redacted>")
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Token(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::Token;

    #[test]
    fn debug_and_redact_hide_the_secret() {
        let token = Token::new("glpat-secret");
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert_eq!(token.redact("got glpat-secret back"), "got <redacted> back");
        assert_eq!(token.bearer(), "Bearer glpat-secret");
    }
}
