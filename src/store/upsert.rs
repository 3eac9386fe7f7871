//! Writing one row of a vendor's stored table, whatever the vendor: find it
//! again (by time and id, or by account and id, as its [`Table`] says), then
//! insert it, update it if its `raw_json` changed, or leave it alone. The SQL
//! is built once per table from its description.

use crate::record::{IdForm, Key, Row, Table, Value};
use crate::time::{fmt_utc, to_micros};
use rusqlite::{Connection, Statement};

/// What writing one row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrote {
    Inserted,
    Updated,
    Unchanged,
}

/// The statements of one table.
pub(super) struct UpsertSql {
    /// `(rowid, raw_json is the same)` of the stored record, if there is one.
    find: String,
    insert: String,
    update: String,
}

impl UpsertSql {
    pub(super) fn new(t: &Table) -> UpsertSql {
        let n = t.columns.len();
        let where_key = match t.key {
            Key::TimeAndId => format!("{} = ?3 AND account = ?1 AND id_key = ?2", t.time_column),
            Key::Id => "account = ?1 AND id_key = ?2 AND ?3 IS NOT NULL".to_owned(),
        };
        let cols: String = t.columns.iter().map(|c| format!(", {c}")).collect();
        let marks: String = (6..6 + n).map(|i| format!(", ?{i}")).collect();
        let sets: String = (t.columns.iter().zip(6..))
            .map(|(c, i)| format!(", {c} = ?{i}"))
            .collect();
        UpsertSql {
            find: format!(
                "SELECT rowid, raw_json IS ?4 FROM {} WHERE {where_key}",
                t.name
            ),
            insert: format!(
                "INSERT INTO {} (account, id_key, event_us, raw_json, written_us{cols}) \
                 VALUES (?1, ?2, ?3, ?4, ?5{marks})",
                t.name
            ),
            update: format!(
                "UPDATE {} SET event_us = ?3, raw_json = ?4, written_us = ?5{sets} \
                 WHERE rowid = ?{} AND account = ?1 AND id_key = ?2",
                t.name,
                6 + n
            ),
        }
    }
}

/// Writes `row` of `account` into table `t` with the stamp `written_us`
/// (taken only when the row is inserted or changed).
pub(super) fn upsert(
    tx: &Connection,
    sql: &UpsertSql,
    t: &Table,
    account: &str,
    row: &Row,
    written_us: i64,
) -> Result<Wrote, UpsertError> {
    let id = id_key(t, &row.id)?;
    let mut find = tx.prepare_cached(&sql.find)?;
    let time = fmt_utc(row.time);
    bind_key(&mut find, account, &id, &time)?;
    find.raw_bind_parameter(4, &row.raw_json)?;
    let found: Option<(i64, bool)> = find
        .raw_query()
        .next()?
        .map(|r| Ok::<_, rusqlite::Error>((r.get(0)?, r.get(1)?)))
        .transpose()?;
    let (stmt, rowid) = match found {
        Some((_, true)) => return Ok(Wrote::Unchanged),
        Some((rowid, false)) => (&sql.update, Some(rowid)),
        None => (&sql.insert, None),
    };
    let mut write = tx.prepare_cached(stmt)?;
    write.raw_bind_parameter(1, account)?;
    bind_id(&mut write, 2, &id)?;
    write.raw_bind_parameter(3, to_micros(row.time))?;
    write.raw_bind_parameter(4, &row.raw_json)?;
    write.raw_bind_parameter(5, written_us)?;
    for (i, v) in (6..).zip(&row.columns) {
        match v {
            Value::Null => write.raw_bind_parameter(i, rusqlite::types::Null)?,
            Value::Int(n) => write.raw_bind_parameter(i, n)?,
            Value::Text(s) => write.raw_bind_parameter(i, s)?,
        }
    }
    if let Some(rowid) = rowid {
        write.raw_bind_parameter(6 + row.columns.len(), rowid)?;
    }
    write.raw_execute()?;
    Ok(if rowid.is_some() {
        Wrote::Updated
    } else {
        Wrote::Inserted
    })
}

/// Why a row could not be written.
#[derive(Debug)]
pub(super) enum UpsertError {
    Sqlite(rusqlite::Error),
    /// The row does not fit its table (a connector's bug).
    BadRow(String),
}

impl From<rusqlite::Error> for UpsertError {
    fn from(e: rusqlite::Error) -> UpsertError {
        UpsertError::Sqlite(e)
    }
}

/// The id as the table stores it.
enum IdKey<'a> {
    Bytes(Vec<u8>),
    Text(&'a str),
}

fn id_key<'a>(t: &Table, id: &'a str) -> Result<IdKey<'a>, UpsertError> {
    match t.id {
        IdForm::Text => Ok(IdKey::Text(id)),
        IdForm::HexBytes => hex(id)
            .map(IdKey::Bytes)
            .ok_or_else(|| UpsertError::BadRow(format!("id `{id}` is not hex"))),
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16);
    let b = s.as_bytes();
    (b.len() % 2 == 0).then_some(())?;
    b.chunks(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

fn bind_id(stmt: &mut Statement<'_>, at: usize, id: &IdKey<'_>) -> rusqlite::Result<()> {
    match id {
        IdKey::Bytes(b) => stmt.raw_bind_parameter(at, b),
        IdKey::Text(s) => stmt.raw_bind_parameter(at, s),
    }
}

fn bind_key(
    stmt: &mut Statement<'_>,
    account: &str,
    id: &IdKey<'_>,
    time: &str,
) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(1, account)?;
    bind_id(stmt, 2, id)?;
    stmt.raw_bind_parameter(3, time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_hex_become_their_bytes() {
        assert_eq!(hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex("0A"), Some(vec![10]));
        assert_eq!(hex("abc"), None);
        assert_eq!(hex("zz"), None);
        assert_eq!(hex(""), Some(vec![]));
    }
}
