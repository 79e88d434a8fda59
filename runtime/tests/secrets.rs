#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The secret patterns, redaction and dotenv parsing, as the workflow runner uses them.

use std::borrow::Cow;

use dw_runtime::secrets::{
    DotenvEntry, Finding, PATTERNS, REDACTED, Redactor, SecretKind, dotenv_secret_values, find,
    parse_dotenv, redact,
};

fn kinds(text: &str) -> Vec<SecretKind> {
    find(text).into_iter().map(|finding| finding.kind).collect()
}

fn found(text: &str) -> Vec<&str> {
    find(text)
        .into_iter()
        .map(|finding| &text[finding.range])
        .collect()
}

#[test]
fn the_table_has_a_row_for_every_pattern_kind() {
    for kind in [
        SecretKind::GitLabToken,
        SecretKind::AnthropicKey,
        SecretKind::OpenAiKey,
        SecretKind::AwsAccessKeyId,
        SecretKind::AwsSecretAccessKey,
        SecretKind::PrivateKey,
        SecretKind::AuthorizationHeader,
    ] {
        assert!(
            PATTERNS.iter().any(|pattern| pattern.kind == kind),
            "{kind:?}"
        );
    }
}

#[test]
fn gitlab_tokens_with_every_documented_prefix() {
    for prefix in [
        "glpat", "gloas", "gldt", "glrt", "glrtr", "glcbt", "glptt", "glft", "glimt", "glagent",
        "glsoat", "glffct", "glwt",
    ] {
        let token = format!("{prefix}-z_sxgtrfAxKr8q1TPY8Y");
        let text = format!("token: {token}\n");
        assert_eq!(found(&text), vec![token.as_str()], "{prefix}");
        assert_eq!(kinds(&text), vec![SecretKind::GitLabToken]);
    }
    let registration = "GR1348941abcdefghijABCDEFGHIJ12";
    assert_eq!(found(&format!("x {registration} y")), vec![registration]);
}

#[test]
fn gitlab_routable_tokens_keep_their_segments_but_not_a_trailing_full_stop() {
    let token = "glpat-AbCdEfGhIjKlMnOpQrStUvWx.01.0w1abc2de";
    let text = format!("Use {token}.");
    assert_eq!(found(&text), vec![token]);
}

#[test]
fn gitlab_near_misses_do_not_match() {
    assert!(find("glpat-short").is_empty());
    assert!(find("the glpat- prefix marks personal access tokens").is_empty());
    assert!(find("xglpat-z_sxgtrfAxKr8q1TPY8Yabc").is_empty());
    assert!(find("glxyz-z_sxgtrfAxKr8q1TPY8Yabc").is_empty());
}

#[test]
fn anthropic_keys() {
    let key = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEf";
    let text = format!("ANTHROPIC_API_KEY={key}");
    assert_eq!(found(&text), vec![key]);
    assert_eq!(kinds(&text), vec![SecretKind::AnthropicKey]);
    assert!(find("sk-ant-short").is_empty());
}

#[test]
fn openai_keys() {
    let project = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-T3BlbkFJ";
    let legacy = "sk-AbCdEfGhIjKlMnOpQrStUvWxT3BlbkFJ0123456789abcdef";
    let service = "sk-svcacct-AbCdEfGhIjKlMnOpQrStUvWx01234";
    for key in [project, legacy, service] {
        let text = format!("key = \"{key}\"");
        assert_eq!(found(&text), vec![key]);
        assert_eq!(kinds(&text), vec![SecretKind::OpenAiKey]);
    }
}

#[test]
fn sk_inside_words_and_short_sk_values_do_not_match() {
    for text in [
        "task-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdef",
        "the risk-assessment-and-mitigation-plan-document",
        "desk-0123456789012345678901234567890123",
        "sk-learn is a nickname for scikit-learn",
        "sk-this-is-not-a-key-just-a-long-slug",
        "sk-proj-short",
    ] {
        assert!(find(text).is_empty(), "{text}");
    }
}

#[test]
fn aws_access_key_ids() {
    for id in ["AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE"] {
        let text = format!("aws_access_key_id = {id}");
        assert_eq!(found(&text), vec![id]);
        assert_eq!(kinds(&text), vec![SecretKind::AwsAccessKeyId]);
    }
    assert!(find("AKIAIOSFODNN7EXAMPL").is_empty(), "too short");
    assert!(find("XAKIAIOSFODNN7EXAMPLE").is_empty(), "inside a word");
    assert!(find("akiaiosfodnn7example").is_empty(), "lower case");
    assert!(find("AKIAIOSFODNN7EXAMPLE1").is_empty(), "too long");
}

#[test]
fn aws_secret_keys_only_when_labelled() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    for text in [
        format!("aws_secret_access_key = {secret}\n"),
        format!("AWS_SECRET_ACCESS_KEY={secret}"),
        format!("{{\"SecretAccessKey\": \"{secret}\"}}"),
    ] {
        assert_eq!(found(&text), vec![secret], "{text}");
        assert_eq!(kinds(&text), vec![SecretKind::AwsSecretAccessKey]);
    }
    assert!(find(secret).is_empty(), "an unlabelled 40-character string");
    assert!(
        find(&format!("aws_secret_access_key = {secret}X")).is_empty(),
        "41 characters is not an AWS secret key"
    );
}

#[test]
fn private_key_blocks_from_begin_to_end() {
    let block = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----";
    let text = format!("before\n{block}\nafter\n");
    assert_eq!(found(&text), vec![block]);
    assert_eq!(kinds(&text), vec![SecretKind::PrivateKey]);
    assert_eq!(
        redact::<&str>(&text, &[]),
        format!("before\n{REDACTED}\nafter\n")
    );

    for header in [
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
    ] {
        let text = format!("-----BEGIN {header}-----\nAAAA\n-----END {header}-----\n");
        assert_eq!(kinds(&text), vec![SecretKind::PrivateKey], "{header}");
    }
    assert!(find("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_empty());
    assert!(find("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_empty());
}

#[test]
fn a_truncated_private_key_is_redacted_to_the_end() {
    let text = "cat id_rsa\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n";
    assert_eq!(redact::<&str>(text, &[]), format!("cat id_rsa\n{REDACTED}"));
}

#[test]
fn two_private_keys_are_two_findings() {
    let one = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
    let text = format!("{one}\nbetween\n{one}");
    assert_eq!(found(&text), vec![one, one]);
}

#[test]
fn authorization_headers_keep_the_label() {
    let text = "curl -H 'Authorization: Bearer abc.DEF-123_xyz' https://example.invalid";
    assert_eq!(found(text), vec!["abc.DEF-123_xyz"]);
    assert_eq!(
        redact::<&str>(text, &[]),
        "curl -H 'Authorization: Bearer [REDACTED]' https://example.invalid"
    );
    assert_eq!(
        found("authorization:basic dXNlcjpwYXNz"),
        vec!["dXNlcjpwYXNz"]
    );
    assert!(find("Authorization: Bearer").is_empty());
    assert!(find("the bearer of this letter").is_empty());
}

#[test]
fn redaction_keeps_every_other_byte() {
    let token = "glpat-z_sxgtrfAxKr8q1TPY8Y";
    let text = format!("héllo ✓ {token}\ttail \u{0}\r\nend");
    let redacted = redact::<&str>(&text, &[]);
    assert_eq!(redacted, format!("héllo ✓ {REDACTED}\ttail \u{0}\r\nend"));
}

#[test]
fn nothing_to_redact_borrows() {
    let text = "ordinary output: 3 passed, 0 failed";
    assert!(matches!(redact::<&str>(text, &[]), Cow::Borrowed(_)));
    assert!(matches!(
        Redactor::new(["some-long-value"]).redact(text),
        Cow::Borrowed(_)
    ));
}

#[test]
fn literal_values_are_redacted() {
    let redactor = Redactor::new(["hunter2-but-longer", "short", "p@ss w0rd!"]);
    let text = "DB_PASSWORD is hunter2-but-longer; short stays; p@ss w0rd! goes";
    assert_eq!(
        redactor.redact(text),
        "DB_PASSWORD is [REDACTED]; short stays; [REDACTED] goes"
    );
    assert_eq!(redactor.find(text)[0].kind, SecretKind::KnownValue);
    assert!(!format!("{redactor:?}").contains("hunter2"));
}

#[test]
fn overlapping_findings_merge_into_one() {
    // A literal value that is part of a GitLab token, and extends past it.
    let token = "glpat-z_sxgtrfAxKr8q1TPY8Y";
    let text = format!("x {token} tail y");
    let redactor = Redactor::new(["TPY8Y tail"]);
    let findings = redactor.find(&text);
    assert_eq!(
        findings,
        vec![Finding {
            kind: SecretKind::GitLabToken,
            range: 2..2 + token.len() + " tail".len(),
        }]
    );
    assert_eq!(redactor.redact(&text), "x [REDACTED] y");

    // A key inside an Authorization header is one finding, not two.
    let header = "Authorization: Bearer sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx";
    assert_eq!(find(header).len(), 1);
    assert_eq!(
        redact::<&str>(header, &[]),
        "Authorization: Bearer [REDACTED]"
    );

    // Adjacent literals that overlap each other.
    let redactor = Redactor::new(["abcdefgh1234", "1234ijklmnop"]);
    assert_eq!(redactor.redact("<abcdefgh1234ijklmnop>"), "<[REDACTED]>");
}

#[test]
fn several_kinds_in_one_text_in_order() {
    let text = "a AKIAIOSFODNN7EXAMPLE b glpat-z_sxgtrfAxKr8q1TPY8Y c sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx";
    assert_eq!(
        kinds(text),
        vec![
            SecretKind::AwsAccessKeyId,
            SecretKind::GitLabToken,
            SecretKind::AnthropicKey
        ]
    );
    assert_eq!(
        redact::<&str>(text, &[]),
        "a [REDACTED] b [REDACTED] c [REDACTED]"
    );
}

#[test]
fn dotenv_parsing() {
    let contents = r#"
# a comment
export API_TOKEN=plain-value-123
QUOTED="double quoted # not a comment"
SINGLE='single $NOT_EXPANDED \n literal'
ESCAPES="line one\nline \"two\""
INLINE=value-with-comment # the comment
HASH=abc#def
  SPACED  =   spaced-out-value
EMPTY=
not an assignment
1BAD=ignored
MULTI="-----BEGIN PRIVATE KEY-----
AAAA
-----END PRIVATE KEY-----"
AFTER=still-parsed
"#;
    let entries = parse_dotenv(contents);
    let pairs: Vec<(&str, &str)> = entries
        .iter()
        .map(|DotenvEntry { key, value }| (key.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("API_TOKEN", "plain-value-123"),
            ("QUOTED", "double quoted # not a comment"),
            ("SINGLE", "single $NOT_EXPANDED \\n literal"),
            ("ESCAPES", "line one\nline \"two\""),
            ("INLINE", "value-with-comment"),
            ("HASH", "abc#def"),
            ("SPACED", "spaced-out-value"),
            ("EMPTY", ""),
            (
                "MULTI",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
            ),
            ("AFTER", "still-parsed"),
        ]
    );
}

#[test]
fn dotenv_secret_values_are_long_and_unique() {
    let contents = "A=short\nB=long-enough\nC=long-enough\nexport D='12345678'\nE=1234567\n";
    assert_eq!(
        dotenv_secret_values(contents),
        vec!["long-enough", "12345678"]
    );
}

#[test]
fn a_dotenv_value_printed_by_a_command_is_redacted() {
    let env_file = "DATABASE_URL=postgres://app:s3cret-pass@db/app\n";
    let redactor = Redactor::new(dotenv_secret_values(env_file));
    let output = "connecting to postgres://app:s3cret-pass@db/app ... ok\n";
    assert_eq!(redactor.redact(output), "connecting to [REDACTED] ... ok\n");
}

#[test]
fn ten_mebibytes_of_output_in_one_pass() {
    // Long runs of characters that start several patterns but never finish one: this is where a
    // backtracking engine would go quadratic; Rust's regex and Aho-Corasick stay linear.
    let mut text = String::with_capacity(10 * 1024 * 1024 + 1024);
    let line = "sk-sk-glpat-AKIA -----BEGIN Authorization: Bearer aaaa secret_access_key= ";
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(line);
        text.push('\n');
    }
    let token = "glpat-z_sxgtrfAxKr8q1TPY8Y";
    text.push_str(token);
    let redactor = Redactor::new(["needle-value-1", "needle-value-2"]);
    let findings = redactor.find(&text);
    assert_eq!(findings.len(), 1);
    assert_eq!(&text[findings[0].range.clone()], token);
    let redacted = redactor.redact(&text);
    assert!(redacted.ends_with(REDACTED));
    assert_eq!(redacted.len(), text.len() - token.len() + REDACTED.len());
}
