//! Bearer tokens from a file, checked in constant time and never logged.
//!
//! Shippers differ in what they can send, so a token is accepted as
//! `Authorization: Bearer TOKEN` (Loki clients, OpenTelemetry exporters,
//! Vector), as the password of HTTP Basic authentication with any user name
//! (rsyslog's omelasticsearch, Fluent Bit's `es` output), or as
//! `Authorization: ApiKey TOKEN` (Elasticsearch clients).

use std::path::Path;

use base64::Engine;
use subtle::ConstantTimeEq;

/// A token file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("token file {}: {what}", path.display())]
pub struct TokenFileError {
    pub path: std::path::PathBuf,
    pub what: String,
}

/// The tokens that may use a server.
#[derive(Clone)]
pub struct Tokens {
    tokens: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a token, not even in a debug dump.
        write!(f, "Tokens({} hidden)", self.tokens.len())
    }
}

impl Tokens {
    /// Reads one token per line; blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> Result<Tokens, TokenFileError> {
        let error = |what: String| TokenFileError { path: path.to_owned(), what };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let tokens = Tokens::parse(&text).map_err(error)?;
        Ok(tokens)
    }

    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() || token.starts_with('#') {
                continue;
            }
            if token.len() < 16 || token.chars().any(char::is_whitespace) {
                return Err(format!(
                    "line {}: a token must be at least 16 characters without spaces (try `openssl rand -hex 32`)",
                    i + 1
                ));
            }
            tokens.push(token.as_bytes().to_vec());
        }
        if tokens.is_empty() {
            return Err("holds no token: write one per line".to_owned());
        }
        Ok(Tokens { tokens })
    }

    /// Whether an `Authorization` header value carries one of the tokens.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization.and_then(|v| std::str::from_utf8(v).ok()) else {
            return false;
        };
        let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        let candidate = match scheme.to_ascii_lowercase().as_str() {
            "bearer" | "apikey" => credentials.as_bytes().to_vec(),
            "basic" => match base64::engine::general_purpose::STANDARD.decode(credentials) {
                Ok(decoded) => match decoded.iter().position(|&b| b == b':') {
                    Some(colon) => decoded[colon + 1..].to_vec(),
                    None => return false,
                },
                Err(_) => return false,
            },
            _ => return false,
        };
        // Every token is compared, whatever matched first.
        let mut found = subtle::Choice::from(0);
        for token in &self.tokens {
            found |= token.as_slice().ct_eq(&candidate);
        }
        found.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKENS: &str = "# shippers\n0123456789abcdef0123\n\n  fedcba9876543210fedc  \n";

    #[test]
    fn tokens_are_read_one_per_line_and_accepted_in_each_scheme() {
        let tokens = Tokens::parse(TOKENS).unwrap();
        assert_eq!(format!("{tokens:?}"), "Tokens(2 hidden)");
        let basic = base64::engine::general_purpose::STANDARD.encode("fluentbit:fedcba9876543210fedc");
        for header in [
            "Bearer 0123456789abcdef0123".to_owned(),
            "bearer fedcba9876543210fedc".to_owned(),
            "ApiKey 0123456789abcdef0123".to_owned(),
            format!("Basic {basic}"),
        ] {
            assert!(tokens.allows(Some(header.as_bytes())), "{header}");
        }
        let wrong_basic = base64::engine::general_purpose::STANDARD.encode("0123456789abcdef0123:");
        for header in [
            "Bearer 0123456789abcdef012",
            "Bearer 0123456789abcdef01234",
            "Token 0123456789abcdef0123",
            "0123456789abcdef0123",
            "Bearer ",
            wrong_basic.as_str(),
        ] {
            assert!(!tokens.allows(Some(header.as_bytes())), "{header}");
        }
        assert!(!tokens.allows(None));
    }

    #[test]
    fn a_token_file_must_hold_usable_tokens() {
        assert_eq!(Tokens::parse("# none\n\n").unwrap_err(), "holds no token: write one per line");
        assert_eq!(
            Tokens::parse("0123456789abcdef0123\nshort\n").unwrap_err(),
            "line 2: a token must be at least 16 characters without spaces (try `openssl rand -hex 32`)"
        );
    }
}
