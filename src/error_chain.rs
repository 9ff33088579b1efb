//! An error with its causes on one line. Libraries put the telling part in a cause (hyper's
//! "connection closed before message completed", lettre's "Connection refused"), and often repeat
//! their cause in their own message.

/// `outer: inner: innermost`, each text said once.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Wrapped(&'static str, #[source] std::io::Error);

    #[test]
    fn says_each_cause_once() {
        let inner = std::io::Error::other("refused");
        assert_eq!(error_chain(&Wrapped("connect", inner)), "connect: refused");
        let inner = std::io::Error::other("refused");
        assert_eq!(
            error_chain(&Wrapped("connect: refused", inner)),
            "connect: refused"
        );
    }
}
