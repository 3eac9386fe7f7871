//! Loading a config without reading its secrets (`SecretMode::Skip`), as
//! `status` does: no variable or credentials directory is needed, and the
//! secrets' spellings are still checked.

use super::*;

const UNSET_VAR: &str = "AUDITMIRROR_TEST_SURELY_UNSET_3f1c";

fn parse_skip(src: &str) -> Result<Config, ConfigError> {
    Config::parse_with(
        src,
        Path::new("/etc/auditmirror/auditmirror.toml"),
        now(),
        SecretMode::Skip,
    )
}

#[test]
fn secrets_are_not_read_and_hold_nothing() {
    assert!(std::env::var(UNSET_VAR).is_err());
    let src = format!(
        "[[gong]]\nname = \"acme\"\naccess_key_file = \"${{CREDENTIALS_DIRECTORY}}/gong-key\"\n\
         access_key_secret_env = \"{UNSET_VAR}\"\n\
         [[genesys]]\nname = \"emea\"\nregion = \"mypurecloud.ie\"\nclient_id = \"cid\"\n\
         client_secret_file = \"/nonexistent/secret\"\n"
    );
    // Reading them fails: the variable is unset.
    assert!(parse(&src).is_err());
    let cfg = parse_skip(&src).unwrap();
    assert_eq!(cfg.secrets, SecretMode::Skip);
    assert_eq!(cfg.accounts.len(), 2);
    let origins: Vec<SecretOrigin> = cfg
        .accounts
        .iter()
        .flat_map(|a| a.config.secrets())
        .map(|s| {
            assert_eq!(s.value().expose_secret(), "");
            s.origin().clone()
        })
        .collect();
    assert_eq!(
        origins,
        [
            SecretOrigin::File("${CREDENTIALS_DIRECTORY}/gong-key".into()),
            SecretOrigin::Env(UNSET_VAR.into()),
            SecretOrigin::File("/nonexistent/secret".into()),
        ]
    );
}

#[test]
fn each_secret_must_still_be_given_exactly_once() {
    let twice = format!(
        "[[gong]]\nname = \"acme\"\naccess_key = \"AK\"\naccess_key_env = \"{UNSET_VAR}\"\n\
         access_key_secret = \"SK\"\n"
    );
    let e = parse_skip(&twice).unwrap_err().to_string();
    assert!(e.contains("give only one of access_key"), "{e}");
    let missing = "[[gong]]\nname = \"acme\"\naccess_key = \"AK\"\n";
    let e = parse_skip(missing).unwrap_err().to_string();
    assert!(
        e.contains("gong[acme].access_key_secret") && e.contains("missing"),
        "{e}"
    );
}
