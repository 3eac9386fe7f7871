//! Secrets: exactly one of `KEY`, `KEY_file` (which may start with
//! `${CREDENTIALS_DIRECTORY}/`) or `KEY_env`, read into a `SecretString` that
//! remembers where it came from and never prints; or, for commands that only
//! read the mirror (`SecretMode::Skip`), checked as written but not read.

use super::parse::{Ctx, Res};
use super::*;

impl Ctx<'_> {
    /// The secret one of `k`'s three spellings gives; exactly one must be there.
    pub fn secret(&self, table: &str, table_span: Range<usize>, k: &SecretKeys<'_>) -> Res<Secret> {
        let key = |suffix: &str| format!("{table}.{}{suffix}", k.key);
        let given = [k.inline.is_some(), k.file.is_some(), k.env.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if given > 1 {
            let span = k
                .file
                .as_ref()
                .map(|f| f.span())
                .or(k.env.as_ref().map(|e| e.span()))
                .unwrap_or(table_span);
            return Err(self.err(
                span,
                key(""),
                format!("give only one of {0}, {0}_file and {0}_env", k.key),
            ));
        }
        let (value, origin) = match (k.inline, k.file, k.env) {
            (Some(v), _, _) => (v.get_ref().clone(), SecretOrigin::Inline),
            // Not read: the origin as written (`${CREDENTIALS_DIRECTORY}` kept).
            (_, Some(f), _) if self.secrets == SecretMode::Skip => {
                let p = match f.get_ref() {
                    p if p.starts_with('$') => PathBuf::from(p),
                    p => self.relative(p),
                };
                return Ok(unread(SecretOrigin::File(p)));
            }
            (_, _, Some(var)) if self.secrets == SecretMode::Skip => {
                return Ok(unread(SecretOrigin::Env(var.get_ref().trim().to_owned())))
            }
            (_, Some(f), _) => {
                let p = self.relative(
                    &expand_credentials_dir(f.get_ref())
                        .map_err(|m| self.err(f.span(), key("_file"), m))?,
                );
                let text = read_secret_file(&p).map_err(|m| self.err(f.span(), key("_file"), m))?;
                (
                    SecretString::from(text.trim_end_matches(['\n', '\r']).to_owned()),
                    SecretOrigin::File(p),
                )
            }
            (_, _, Some(var)) => {
                let name = var.get_ref().trim();
                let value = std::env::var(name).map_err(|_| {
                    self.err(
                        var.span(),
                        key("_env"),
                        format!("environment variable {name} is not set"),
                    )
                })?;
                (
                    SecretString::from(value),
                    SecretOrigin::Env(name.to_owned()),
                )
            }
            (None, None, None) => {
                return Err(self.err(
                    table_span,
                    key(""),
                    format!("missing: set {0}, {0}_file or {0}_env", k.key),
                ))
            }
        };
        if value.expose_secret().trim().is_empty() {
            return Err(self.err(table_span, key(""), "the secret is empty"));
        }
        Ok(Secret { value, origin })
    }
}

/// A secret given but not read ([`SecretMode::Skip`]): it holds nothing.
fn unread(origin: SecretOrigin) -> Secret {
    Secret {
        value: SecretString::from(String::new()),
        origin,
    }
}

/// The longest secret file read: a mistaken path such as `/dev/zero` must not
/// read until memory runs out.
const MAX_SECRET_FILE: u64 = 64 * 1024;

fn read_secret_file(p: &Path) -> Result<String, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(p)
        .and_then(|f| f.take(MAX_SECRET_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(format!(
            "{} is larger than 64 KiB: give the file that holds only the secret",
            p.display()
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", p.display()))
}

/// Replaces a leading `$CREDENTIALS_DIRECTORY` or `${CREDENTIALS_DIRECTORY}` with
/// the directory systemd gives a unit's `LoadCredential=` files, so one config
/// serves both the daemon and the oneshot sync unit.
fn expand_credentials_dir(path: &str) -> Result<String, String> {
    let Some(rest) = ["${CREDENTIALS_DIRECTORY}", "$CREDENTIALS_DIRECTORY"]
        .iter()
        .find_map(|p| path.strip_prefix(p))
    else {
        return Ok(path.to_owned());
    };
    match std::env::var("CREDENTIALS_DIRECTORY") {
        Ok(dir) if !dir.is_empty() => Ok(format!("{}{rest}", dir.trim_end_matches('/'))),
        _ => Err("CREDENTIALS_DIRECTORY is not set: systemd sets it for units with LoadCredential=; outside systemd, give the file's own path".to_owned()),
    }
}
