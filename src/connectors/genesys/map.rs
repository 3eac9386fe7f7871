//! Genesys's mirror table and its row type; results and realtime pages, and
//! mapping one `AuditLogMessage` to a row: the fields the mirror derives from
//! `raw_json` are only type-checked; absent or null is fine, a wrong type
//! rejects the message with the field named.

use super::*;
use crate::connectors::json::lossy::Lossy;
use crate::record::{IdForm, Key, Row, Table};

/// `genesys_log`, under the view `genesys_audit_log_message`: what the mirror
/// stores beside `raw_json` (the view computes every other column from it).
/// A message keeps its id when it changes: it is found again by its id.
pub const TABLE: Table = Table {
    name: "genesys_log",
    time_column: "event_date",
    id: IdForm::Text,
    key: Key::Id,
    columns: &["remote_ip_addresses"],
};

/// One Genesys `AuditLogMessage`, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct GenesysRow {
    pub id: String,
    /// `eventDate` as an instant.
    pub event_date: DateTime<Utc>,
    /// `remoteIp` joined with `,`; `None` when absent or empty.
    pub remote_ip_addresses: Option<String>,
    /// The message exactly as received (insignificant whitespace removed).
    pub raw_json: String,
}

impl From<GenesysRow> for Row {
    fn from(r: GenesysRow) -> Row {
        Row::new(
            r.id,
            r.event_date,
            vec![r.remote_ip_addresses.into()],
            r.raw_json,
        )
    }
}

/// `cursor` is kept as text until it is known to be UTF-8 (see [`parse_page`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultsPage<'a> {
    #[serde(borrow)]
    entities: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    cursor: Option<&'a RawValue>,
    page_count: Option<u64>,
}

/// Parses a results (or realtime) page: each message is sliced out, then mapped.
///
/// A body that is not UTF-8 throughout is read again with each bad byte as `?`
/// (`json::lossy`): a message holding a bad byte is rejected with its bytes in
/// base64, the others are mapped. Bad bytes in the cursor, or a body that is
/// not JSON even so, make the page unreadable as a whole.
pub(super) fn parse_page(body: &[u8]) -> Result<Fetch, serde_json::Error> {
    let err = match serde_json::from_slice::<ResultsPage<'_>>(body) {
        Ok(page) => return map_page(page, None),
        Err(e) => e,
    };
    let Some(lossy) = Lossy::new(body) else {
        return Err(err);
    };
    let Ok(page) = serde_json::from_str::<ResultsPage<'_>>(lossy.text()) else {
        return Err(err);
    };
    if page.cursor.is_some_and(|c| !lossy.is_clean(body, c.get())) {
        return Err(de::Error::custom(format!(
            "the cursor is not valid UTF-8 ({err})"
        )));
    }
    map_page(page, Some((&lossy, body)))
}

/// Maps a parsed page; `lossy` when it was parsed from a repaired copy of `body`.
fn map_page(
    page: ResultsPage<'_>,
    lossy: Option<(&Lossy, &[u8])>,
) -> Result<Fetch, serde_json::Error> {
    let cursor: Option<String> = match page.cursor {
        Some(c) => serde_json::from_str(c.get())?,
        None => None,
    };
    let entities = page.entities.unwrap_or_default();
    let (mut rows, mut rejected) = (Vec::with_capacity(entities.len()), Vec::new());
    for raw in &entities {
        let checked = lossy.map_or(Ok(()), |(l, body)| l.check(body, raw.get(), "message"));
        match checked.and_then(|()| map_message(raw.get())) {
            Ok(row) => rows.push(row.into()),
            Err(r) => rejected.push(r),
        }
    }
    Ok(Fetch {
        page: Page { rows, rejected },
        count: entities.len(),
        cursor: cursor.filter(|c| !c.is_empty()),
        page_count: page.page_count,
    })
}

// ---------------------------------------------------------------------------
// Mapping one message. Fields the mirror derives from `raw_json` are only
// type-checked: absent or null is fine, a wrong type rejects the message.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Message<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_date: Option<Cow<'a, str>>,
    remote_ip: Option<Vec<Option<String>>>,
    user_home_org_id: Option<Text>,
    service_name: Option<Text>,
    level: Option<Text>,
    action: Option<Text>,
    entity_type: Option<Text>,
    status: Option<Text>,
    application: Option<Text>,
    user: Option<Ref>,
    client: Option<Ref>,
    entity: Option<Ref>,
    message: Option<Info>,
    initiating_action: Option<Initiating>,
    transaction_initiator: Option<bool>,
    property_changes: Option<ListOf<Change>>,
    entity_changes: Option<ListOf<Change>>,
    context: Option<MapOf<Text>>,
}

/// `DomainEntityRef` / `AddressableEntityRef`.
#[derive(Deserialize)]
#[serde(
    rename_all = "camelCase",
    expecting = "an object with string id, name, selfUri"
)]
#[allow(dead_code)]
struct Ref {
    id: Option<Text>,
    name: Option<Text>,
    self_uri: Option<Text>,
}

/// `MessageInfo`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a MessageInfo object")]
#[allow(dead_code)]
struct Info {
    localizable_message_code: Option<Text>,
    message: Option<Text>,
    message_with_params: Option<Text>,
    message_params: Option<MapOf<Text>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an InitiatingAction object")]
#[allow(dead_code)]
struct Initiating {
    transaction_id: Option<Text>,
    action_context: Option<Text>,
}

/// `PropertyChange` and `EntityChange`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a change object")]
#[allow(dead_code)]
struct Change {
    property: Option<Text>,
    entity_id: Option<Text>,
    entity_name: Option<Text>,
    entity_type: Option<Text>,
    old_values: Option<ListOf<Text>>,
    new_values: Option<ListOf<Text>>,
}

/// A JSON string, checked and not kept.
struct Text;

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Text, E> {
                Ok(Text)
            }
        }
        d.deserialize_str(V)
    }
}

/// An array of `T` (nulls allowed), checked and not kept.
struct ListOf<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = ListOf<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListOf<T>, A::Error> {
                while seq.next_element::<Option<T>>()?.is_some() {}
                Ok(ListOf(PhantomData))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// An object whose values are `T` (or null), checked and not kept.
struct MapOf<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = MapOf<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MapOf<T>, A::Error> {
                while map.next_entry::<Text, Option<T>>()?.is_some() {}
                Ok(MapOf(PhantomData))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// Maps one raw `AuditLogMessage`; what cannot be mapped is returned with the reason.
pub fn map_message(raw: &str) -> Result<GenesysRow, Rejected> {
    let reject = |reason: String| Rejected {
        reason,
        raw_payload: compact_json(raw),
    };
    let m: Message<'_> = serde_json::from_str(raw).map_err(|e| reject(diagnose(raw, &e)))?;
    let id =
        m.id.filter(|id| !id.is_empty())
            .ok_or_else(|| reject("field `id`: missing or empty".into()))?;
    let date = m
        .event_date
        .ok_or_else(|| reject("field `eventDate`: missing".into()))?;
    let event_date = parse_instant(&date).map_err(|e| {
        let shown: String = date.chars().take(64).collect();
        reject(format!(
            "field `eventDate`: `{shown}` is not an RFC 3339 instant ({e})"
        ))
    })?;
    let ips: Vec<&str> = (m.remote_ip.iter().flatten().flatten())
        .map(String::as_str)
        .filter(|ip| !ip.is_empty())
        .collect();
    Ok(GenesysRow {
        id: id.into_owned(),
        event_date,
        remote_ip_addresses: (!ips.is_empty()).then(|| ips.join(",")),
        raw_json: compact_json(raw),
    })
}

/// Names the field that made `err`: each top-level field is checked alone
/// (only on the rejection path, so the common path parses once).
fn diagnose(raw: &str, err: &serde_json::Error) -> String {
    let plain = |e: &serde_json::Error| {
        let text = e.to_string();
        let at = format!(" at line {} column {}", e.line(), e.column());
        text.strip_suffix(&at).map_or(text.clone(), str::to_owned)
    };
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(raw) else {
        return format!("the message is not a JSON object ({})", plain(err));
    };
    for (key, value) in fields {
        let one = Value::Object([(key.clone(), value)].into_iter().collect()).to_string();
        if let Err(e) = serde_json::from_str::<Message<'_>>(&one) {
            return format!("field `{key}`: {}", plain(&e));
        }
    }
    format!(
        "the message does not match AuditLogMessage ({})",
        plain(err)
    )
}
