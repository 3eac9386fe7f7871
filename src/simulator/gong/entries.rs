//! Simulated Gong entries, generated from the seed and the entry's index. Keys
//! follow the real API; `logRecord` bodies follow what public integrations
//! report per log type (request headers for AccessLog, table changes for
//! UserActivityLog, call and viewer for the call logs).

use crate::simulator::{gen, SimState};
use chrono::{FixedOffset, TimeZone};
use serde_json::{json, Map, Value};

const FIRST: [&str; 12] = [
    "Jon", "Zoë", "Ana", "Łukasz", "Mei", "Olu", "Sven", "Priya", "Chloé", "Diego", "Aiyana", "李",
];
const LAST: [&str; 10] = [
    "Snow",
    "Ångström",
    "García",
    "Nowak",
    "Chen",
    "Adeyemi",
    "Öberg",
    "Sharma",
    "Dubois",
    "雷",
];
const OFFSETS: [i32; 3] = [-8 * 3600, 5 * 3600 + 1800, 0];

struct User {
    id: String,
    email: String,
    name: String,
}

fn user(seed: u64, k: u64) -> User {
    let x = gen::h(seed, 0x05e2, k % 40);
    let (first, last) = (gen::pick(x, &FIRST), gen::pick(x >> 8, &LAST));
    let id = format!(
        "{}",
        1_000_000_000_000_000_000 + x % 8_000_000_000_000_000_000
    );
    // Emails are ASCII as real tenants' are: `Łukasz Ångström` → `lukasz.angstrom`.
    let ascii: String = crate::simulator::ascii::transliterate(&format!("{first}.{last}"))
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let local = if ascii.trim_matches('.').is_empty() {
        format!("user{}", k % 40)
    } else {
        ascii.to_lowercase()
    };
    // One user in forty has an empty display name, as real tenants do.
    let name = if k % 40 == 7 {
        String::new()
    } else {
        format!("{first} {last}")
    };
    User {
        id,
        email: format!("{local}.{}@acme.example", k % 40),
        name,
    }
}

/// `eventTime` in one of three offsets, with milliseconds only when non-zero.
fn event_time(t_us: i64, offset_secs: i32) -> String {
    let tz = FixedOffset::east_opt(offset_secs)
        .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
    let t = tz
        .timestamp_micros(t_us)
        .single()
        .unwrap_or_else(|| tz.timestamp_micros(0).unwrap());
    let fmt = if t_us % 1_000_000 == 0 {
        "%Y-%m-%dT%H:%M:%S"
    } else {
        "%Y-%m-%dT%H:%M:%S%.3f"
    };
    let zone = if offset_secs == 0 && t_us % 3 == 0 {
        "Z".to_owned()
    } else {
        t.format("%:z").to_string()
    };
    format!("{}{zone}", t.format(fmt))
}

fn ip(x: u64) -> String {
    if x % 5 == 0 {
        format!("2001:db8:{:x}::{:x}", (x >> 8) & 0xffff, (x >> 24) & 0xffff)
    } else {
        format!("203.0.{}.{}", (x >> 8) % 256, (x >> 16) % 254 + 1)
    }
}

/// What one entry is generated from.
struct Seeds {
    seed: u64,
    tg: u64,
    i: u64,
    x: u64,
    t_us: i64,
    call_id: String,
}

/// Entry `i` of `log_type`, at `t_us`, as the JSON text Gong serves (with
/// `malformed`, broken in one of the two ways real payloads break).
pub(super) fn render_entry(
    sim: &SimState,
    log_type: &str,
    i: u64,
    t_us: i64,
    malformed: bool,
) -> String {
    let seed = sim.cfg.seed;
    let tg = gen::tag(log_type);
    let x = gen::h(seed, tg, i);
    let u = user(seed, x >> 3);
    let time = event_time(t_us, *gen::pick(x >> 17, &OFFSETS));
    let call_id = format!(
        "{}",
        7_000_000_000_000_000_000u64 + gen::h(seed, tg ^ 0xca11, i / 3) % 1_000_000_000_000_000_000
    );
    let s = Seeds {
        seed,
        tg,
        i,
        x,
        t_us,
        call_id,
    };
    let mut e = Map::new();
    let internal = !log_type.starts_with("ExternallyShared");
    if internal {
        e.insert("userId".into(), json!(u.id));
        e.insert("userEmailAddress".into(), json!(u.email));
        if x % 11 != 0 {
            e.insert("userFullName".into(), json!(u.name));
        }
    } else {
        e.insert(
            "userEmailAddress".into(),
            json!(format!("guest{}@partner-{}.example", x % 97, x % 7)),
        );
        if x % 3 != 0 {
            e.insert(
                "userFullName".into(),
                json!(format!("Guest {}", gen::pick(x >> 5, &FIRST))),
            );
        }
    }
    let record = match log_type {
        "AccessLog" => access_record(&s),
        "UserActivityLog" => activity_record(&s, &mut e),
        "UserCallPlay" | "ExternallySharedCallPlay" => play_record(&s, log_type),
        _ => json!({
            "call_id": s.call_id,
            "time_based_secure_sharing_id": gen::hex(seed, tg ^ 3, i, 24),
            "page_viewer_ip": ip(x >> 11),
        }),
    };
    e.insert("eventTime".into(), json!(time));
    e.insert("logRecord".into(), record);
    if malformed {
        // Alternate the two ways real payloads go wrong: a bad time, a wrong type.
        if (i / sim.cfg.malformed_every.max(1)) % 2 == 0 {
            e.insert("eventTime".into(), json!("2026-13-45T99:99:99 PST"));
        } else {
            e.insert("userEmailAddress".into(), json!(12345));
            e.insert("eventTime".into(), json!(42));
        }
    }
    Value::Object(e).to_string()
}

/// AccessLog's `logRecord`: one HTTP request to the app.
fn access_record(s: &Seeds) -> Value {
    let (seed, tg, i, x) = (s.seed, s.tg, s.i, s.x);
    let method = *gen::pick(x >> 21, &["GET", "GET", "GET", "POST", "PUT", "DELETE"]);
    let path = gen::pick(
        x >> 25,
        &[
            "/ajax/home/calls",
            "/call",
            "/ajax/settings/api",
            "/library/folder",
            "/deals",
        ],
    );
    json!({
        "requested_uri": format!("{path}?id={}", x % 100_000),
        "requested_url": format!("https://app.gong.io{path}?id={}", x % 100_000),
        "method": method,
        "protocol": "HTTP/1.1",
        "status": *gen::pick(x >> 29, &[200, 200, 200, 302, 403, 404, 500]),
        "elapsed_time": x % 900,
        "content_length": x % 50_000,
        "message": if x % 13 == 0 { "" } else { "request completed" },
        "request_headers": {
            "referer": "https://app.gong.io/home",
            "x-forwarded-for": if x % 4 == 0 { format!("{}, 10.0.{}.{}", ip(x >> 7), x % 255, (x >> 3) % 255) } else { ip(x >> 7) },
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        },
        "response_headers": {"x-traceid": gen::hex(seed, tg, i, 16), "content-type": "application/json", "x-iid": gen::hex(seed, tg ^ 1, i, 8)},
        "mdc": {"xtid": gen::hex(seed, tg ^ 2, i, 12)},
    })
}

/// UserActivityLog's `logRecord`: an action and the table row it changed;
/// one entry in nine is done by an impersonator (added to `e`).
fn activity_record(s: &Seeds, e: &mut Map<String, Value>) -> Value {
    let (seed, x, t_us, call_id) = (s.seed, s.x, s.t_us, &s.call_id);
    if x % 9 == 0 {
        let imp = user(seed, x >> 13);
        e.insert("impersonatorUserId".into(), json!(imp.id));
        e.insert("impersonatorEmailAddress".into(), json!(imp.email));
        e.insert("impersonatorFullName".into(), json!(imp.name));
        e.insert(
            "impersonatorCompanyId".into(),
            json!(format!("{}", 5_000_000_000_000_000_000u64 + x % 1000)),
        );
    }
    let action = *gen::pick(
        x >> 23,
        &[
            "EXPORT_CALLS",
            "UPDATE_CALL_PRIVACY",
            "DELETE_CALL",
            "CHANGE_USER_SETTINGS",
            "SHARE_CALL",
            "LOGIN",
        ],
    );
    json!({
        "action": action,
        "httpRequest": {
            "clientIp": ip(x >> 9),
            "verb": *gen::pick(x >> 27, &["POST", "PUT", "DELETE"]),
            "endpointUri": format!("/ajax/{}", action.to_lowercase().replace('_', "-")),
            "referrerUri": "https://app.gong.io/settings",
            "body": if x % 5 == 0 { String::new() } else { format!("{{\"callId\":\"{call_id}\"}}") },
            "parameters": [{"name": "workspace", "value": format!("{}", x % 4)}],
        },
        "tableChanges": [{
            "tableName": *gen::pick(x >> 31, &["calls", "users", "call_privacy", "workspace_settings"]),
            "preSnapshotTimestamp": t_us / 1000 - 1,
            "postSnapshotTimestamp": t_us / 1000,
            "rowChanges": [{
                "primaryKeyColumns": [{"columnName": "id", "columnValue": call_id}],
                "columnChanges": [{"columnName": "is_private", "oldValue": "false", "newValue": "true", "operation": "UPDATE"}],
            }],
        }],
        "customData": [],
        "workspaceId": format!("{}", 4_000_000_000_000_000_000u64 + x % 4),
    })
}

/// The call-play logs' `logRecord`: who played which call, how.
fn play_record(s: &Seeds, log_type: &str) -> Value {
    let (seed, tg, i, x, t_us) = (s.seed, s.tg, s.i, s.x, s.t_us);
    let start = (x % 3600) as f64 + 0.25;
    let mut r = json!({
        "call_id": s.call_id,
        "video_player_instance_id": gen::uuid(seed, tg, i / 3),
        "sequence_num": i % 3,
        "play_speed": *gen::pick(x >> 19, &[1.0, 1.25, 1.5, 2.0]),
        "device": *gen::pick(x >> 15, &["desktop", "mobile", "tablet"]),
        "start_time": start,
        "end_time": start + (x % 120) as f64,
        "event_time_on_device": event_time(t_us - 1_000_000, 0),
        "offline": x % 17 == 0,
        "live": x % 23 == 0,
    });
    if log_type == "ExternallySharedCallPlay" {
        r["time_based_secure_sharing_id"] = json!(gen::hex(seed, tg ^ 3, i / 3, 24));
    }
    r
}
