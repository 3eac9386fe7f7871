//! What every account table has, whatever its vendor: `name`, the stream settings
//! and the HTTP limits (each inherited from `[defaults]`), declared once by the
//! [`account_table!`](crate::account_table) macro; and [`AccountParser`], through
//! which a vendor reads its `[[name]]` tables and validates its own keys.

use super::parse::{Ctx, Res};
use super::*;
use std::ops::Range;
use toml::de::DeValue;

/// An optional text key, with its place in the file.
pub type Text = Option<Spanned<String>>;
/// An optional secret key, with its place in the file.
pub type SecretText = Option<Spanned<SecretString>>;

/// Declares a vendor's raw account table: `name`, the vendor's own keys, and
/// the stream settings and HTTP limits every account has; unknown keys are
/// refused. `common()` hands the shared keys to [`AccountParser::common`].
#[macro_export]
macro_rules! account_table {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $crate::settings_table!($name {
            name: ::toml::Spanned<String>,
            $($field: $ty),*
        });

        impl $name {
            /// The keys every account has.
            fn common(&self) -> $crate::config::CommonKeys<'_> {
                $crate::config::CommonKeys {
                    name: &self.name,
                    overrides: self.overrides(),
                }
            }
        }
    };
}

/// A table with the stream settings and HTTP limits (`[defaults]`, accounts).
#[doc(hidden)]
#[macro_export]
macro_rules! settings_table {
    ($vis:vis $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        $vis struct $name {
            $($field: $ty,)*
            schedule: Option<::toml::Spanned<String>>,
            lookback: Option<::toml::Spanned<String>>,
            settle: Option<::toml::Spanned<String>>,
            start: Option<::toml::Spanned<::toml::Value>>,
            window: Option<::toml::Spanned<String>>,
            window_records: Option<::toml::Spanned<i64>>,
            max_body_mb: Option<::toml::Spanned<i64>>,
            response_timeout: Option<::toml::Spanned<String>>,
            total_timeout: Option<::toml::Spanned<String>>,
        }

        impl $name {
            #[allow(dead_code)]
            $vis fn overrides(&self) -> $crate::config::Overrides<'_> {
                $crate::config::Overrides {
                    schedule: self.schedule.as_ref(),
                    lookback: self.lookback.as_ref(),
                    settle: self.settle.as_ref(),
                    start: self.start.as_ref(),
                    window: self.window.as_ref(),
                    window_records: self.window_records.as_ref(),
                    max_body_mb: self.max_body_mb.as_ref(),
                    response_timeout: self.response_timeout.as_ref(),
                    total_timeout: self.total_timeout.as_ref(),
                }
            }
        }
    };
}

crate::settings_table!(pub(super) RawDefaults {});

/// The stream settings and HTTP limits a table sets (each `None` when absent).
#[doc(hidden)]
#[derive(Clone, Copy, Default)]
pub struct Overrides<'a> {
    pub schedule: Option<&'a Spanned<String>>,
    pub lookback: Option<&'a Spanned<String>>,
    pub settle: Option<&'a Spanned<String>>,
    pub start: Option<&'a Spanned<toml::Value>>,
    pub window: Option<&'a Spanned<String>>,
    pub window_records: Option<&'a Spanned<i64>>,
    pub max_body_mb: Option<&'a Spanned<i64>>,
    pub response_timeout: Option<&'a Spanned<String>>,
    pub total_timeout: Option<&'a Spanned<String>>,
}

/// The keys every account table has.
pub struct CommonKeys<'a> {
    pub name: &'a Spanned<String>,
    pub overrides: Overrides<'a>,
}

/// One account table, as its vendor reads it: what every account has
/// (validated), its secrets, the vendor's raw keys, and its place in the file.
pub struct AccountTable<'t, 'a, R> {
    pub ctx: &'t Ctx<'a>,
    pub common: &'t Common,
    pub secrets: &'t Secrets<'a>,
    pub raw: &'t R,
    pub span: Range<usize>,
}

impl<R> AccountTable<'_, '_, R> {
    /// The account's key `name` as errors name it (`source[account].name`).
    pub fn key(&self, name: &str) -> String {
        format!("{}.{name}", self.common.table)
    }

    /// The secret `name` (`KEY`, `KEY_file` or `KEY_env`).
    pub fn secret(&self, name: &'static str) -> Res<Secret> {
        (self.secrets).get(self.ctx, &self.common.table, self.span.clone(), name)
    }
}

/// The secrets of one account table, as written (each key and value spanned).
pub struct Secrets<'a> {
    found: Vec<(String, Spanned<DeValue<'a>>)>,
}

impl<'a> Secrets<'a> {
    /// Takes every spelling of `names` out of `table` (an account table).
    fn take(table: &mut Spanned<DeValue<'a>>, names: &[&str]) -> Secrets<'a> {
        let mut found = Vec::new();
        if let DeValue::Table(map) = table.get_mut() {
            let is_secret = |k: &str| {
                names.iter().any(|n| {
                    k.strip_prefix(n)
                        .is_some_and(|rest| ["", "_file", "_env"].contains(&rest))
                })
            };
            let mut kept = toml::map::Map::new();
            for (k, v) in std::mem::take(map) {
                if is_secret(k.get_ref()) {
                    found.push((k.get_ref().to_string(), v));
                } else {
                    kept.insert(k, v);
                }
            }
            *map = kept;
        }
        Secrets { found }
    }

    fn value<T: serde::de::DeserializeOwned>(
        &self,
        ctx: &Ctx<'a>,
        key: &str,
    ) -> Res<Option<Spanned<T>>> {
        match self.found.iter().find(|(k, _)| k == key) {
            Some((_, v)) => ctx.typed(v.clone()).map(Some),
            None => Ok(None),
        }
    }

    /// Whether any spelling of `name` is there.
    pub fn given(&self, name: &str) -> bool {
        ["", "_file", "_env"].iter().any(|s| {
            let key = format!("{name}{s}");
            self.found.iter().any(|(k, _)| *k == key)
        })
    }

    /// The secret `name`: exactly one of its spellings must be there.
    pub fn get(
        &self,
        ctx: &Ctx<'a>,
        table: &str,
        span: Range<usize>,
        name: &'static str,
    ) -> Res<Secret> {
        let inline: SecretText = self.value(ctx, name)?;
        let file: Text = self.value(ctx, &format!("{name}_file"))?;
        let env: Text = self.value(ctx, &format!("{name}_env"))?;
        let keys = SecretKeys {
            key: name,
            inline: &inline,
            file: &file,
            env: &env,
        };
        ctx.secret(table, span, &keys)
    }
}

/// The three spellings of one secret key (`KEY`, `KEY_file`, `KEY_env`).
pub struct SecretKeys<'a> {
    pub key: &'static str,
    pub inline: &'a SecretText,
    pub file: &'a Text,
    pub env: &'a Text,
}

impl SecretKeys<'_> {
    /// Whether any of the three spellings is there.
    pub fn given(&self) -> bool {
        self.inline.is_some() || self.file.is_some() || self.env.is_some()
    }
}

/// What every account has, validated: its name, the key prefix its errors use
/// (`source[name]`), its stream settings and HTTP limits.
pub struct Common {
    pub name: String,
    pub table: String,
    pub settings: StreamSettings,
    pub limits: HttpLimits,
}

/// Hands a vendor its `[[name]]` tables and validates what every account has.
pub struct AccountParser<'a> {
    ctx: &'a Ctx<'a>,
    source: Source,
    tables: Spanned<DeValue<'a>>,
    defaults: Overrides<'a>,
    names: std::cell::RefCell<Vec<String>>,
}

impl<'a> AccountParser<'a> {
    pub(super) fn new(
        ctx: &'a Ctx<'a>,
        source: Source,
        tables: Spanned<DeValue<'a>>,
        defaults: Overrides<'a>,
    ) -> AccountParser<'a> {
        AccountParser {
            ctx,
            source,
            tables,
            defaults,
            names: Default::default(),
        }
    }

    /// Validates the keys every account has; a name used twice is an error.
    fn common(&self, keys: &CommonKeys<'_>) -> Res<Common> {
        let source = self.source.as_str();
        let name = self.ctx.name(source, keys.name)?;
        let table = format!("{source}[{name}]");
        if self.names.borrow().contains(&name) {
            return Err(self.ctx.err(
                keys.name.span(),
                format!("{table}.name"),
                format!("another [[{source}]] account has this name; names must be unique"),
            ));
        }
        self.names.borrow_mut().push(name.clone());
        let max_window = self.source.vendor().max_window;
        let settings = self
            .ctx
            .settings(&table, keys.overrides, self.defaults, max_window)?;
        let limits = self.ctx.limits(&table, keys.overrides, self.defaults)?;
        Ok(Common {
            name,
            table,
            settings,
            limits,
        })
    }

    /// Every `[[name]]` table as the vendor's raw type `R`, in file order, made
    /// into an account: `keys` says where its shared keys are; the secrets
    /// named in `secrets` (each spelled `KEY`, `KEY_file` or `KEY_env`) are
    /// taken out of the table first; `build` makes the vendor's own part from
    /// what every account has (validated), the secrets, the raw table and its
    /// place.
    pub fn accounts<R, C>(
        &self,
        keys: fn(&R) -> CommonKeys<'_>,
        secrets: &[&'static str],
        build: impl Fn(&AccountTable<'_, 'a, R>) -> Res<C>,
    ) -> Res<Vec<Account>>
    where
        R: serde::de::DeserializeOwned,
        C: AccountConfig + 'static,
    {
        let mut tables = self.tables.clone();
        let mut found: Vec<Secrets<'a>> = Vec::new();
        if let DeValue::Array(items) = tables.get_mut() {
            for item in items.iter_mut() {
                found.push(Secrets::take(item, secrets));
            }
        }
        let tables: Vec<Spanned<R>> = self.ctx.typed(tables)?;
        let mut out = Vec::new();
        for (table, secrets) in tables.into_iter().zip(found) {
            let common = self.common(&keys(table.get_ref()))?;
            let config = build(&AccountTable {
                ctx: self.ctx,
                common: &common,
                secrets: &secrets,
                raw: table.get_ref(),
                span: table.span(),
            })?;
            out.push(Account {
                source: self.source,
                name: common.name,
                settings: common.settings,
                limits: common.limits,
                config: Arc::new(config),
            });
        }
        Ok(out)
    }
}
