//! The Genesys simulator's data: the service table both service mappings serve,
//! the pools messages draw from, and message `i` rendered at a revision, as a
//! pure function of the seed. The HTTP side lives in the parent module.

use super::*;

/// `(serviceName, offered by the realtime query, [(entityType, actions)])`: what
/// messages are drawn from and what both service mappings serve.
pub(super) type Service = (&'static str, bool, &'static [Entity]);
pub(super) type Entity = (&'static str, &'static [&'static str]);
#[rustfmt::skip]
pub(super) const SERVICES: &[Service] = &[
    ("AnalyticsReporting", false, &[("Exports", &["Create", "Delete", "Download"]),
        ("ScheduledExports", &["Create", "Update", "Delete"]), ("DashboardSettings", &["Update"])]),
    ("Architect", true, &[("Flow", &["Create", "Update", "Delete", "Publish", "Checkin", "Checkout", "Revert"]),
        ("Prompt", &["Create", "Update", "Delete"]), ("FlowOutcome", &["Create", "Update", "Delete"])]),
    ("ContactCenter", false, &[("Recording", &["Read", "Download", "Delete", "Export", "ApplyProtection"]),
        ("Participant", &["Update"])]),
    ("Directory", true, &[("User", &["Create", "Update", "Delete", "ChangePassword"]),
        ("AuthUser", &["Authenticate"]), ("Location", &["Create", "Update", "Delete"])]),
    ("Groups", true, &[("Group", &["Create", "Update", "Delete", "MemberAdd", "MemberRemove"]),
        ("DynamicGroup", &["Create", "Update", "Delete"])]),
    ("Integrations", true, &[("Integration", &["Create", "Update", "Delete", "Enable", "Disable"]),
        ("Action", &["Create", "Update", "Delete", "Execute"]), ("Credential", &["Create", "Update", "Delete"])]),
    ("Outbound", true, &[("Campaign", &["Create", "Update", "Delete"]),
        ("ContactList", &["Create", "Update", "Delete", "Upload"]), ("DNCList", &["Create", "Update", "Append"])]),
    ("PeoplePermissions", true, &[("Role", &["Create", "Update", "Delete", "MemberAdd", "MemberRemove"]),
        ("OAuthClient", &["Create", "Update", "Delete", "Authorize", "Revoke"]),
        ("OrganizationAuthorizationTrust", &["Create", "Delete"])]),
    ("Presence", false, &[("UserPresence", &["Update"]), ("Status", &["Create", "Update", "Delete"])]),
    ("Quality", false, &[("Evaluation", &["Create", "Update", "Delete", "Read"]),
        ("EvaluationForm", &["Create", "Update", "Delete", "Publish"]), ("Calibration", &["Create", "Update", "Delete"])]),
    ("Routing", true, &[("Queue", &["Create", "Update", "Delete", "MemberAdd", "MemberRemove"]),
        ("WrapupCode", &["Create", "Delete"]), ("UserSkill", &["Assign", "Unassign"])]),
    ("Telephony", false, &[("Edge", &["Update", "Cycle"]), ("Trunk", &["Create", "Update", "Delete"]),
        ("Phone", &["Create", "Update", "Delete"]), ("DID", &["Assign", "Unassign"])]),
];

/// Pools the messages draw from, and the longer texts the API answers with.
#[rustfmt::skip]
pub(super) mod tables {
    pub const USERS: &[&str] = &[
        "Zoë Ångström", "李雷", "", "Ana María Núñez", "Jürgen Groß", "Søren Kierkegård", "Олена Коваленко",
        "محمد الأحمد", "Siobhán O'Connor", "François-Xavier Dupré", "Øyvind Bråten", "Łukasz Wróbel",
        "Nguyễn Văn An", "Ελένη Παπαδοπούλου", "田中 花子", "김민준", "Priya Raghunathan", "José Álvarez",
        "Chloé Lefèvre", "Mette Frederiksen-Hansen", "Björn Þórsson", "Aoife Ní Bhriain", "Zuzana Dvořáková",
        "Ömer Çelik", "Ngozi Okonkwo", "Mateus Conceição", "Hana Nováková", "אורי כהן", "Dmitri Ivanov",
        "Kai Müller", "Astrid Lindqvist", "Rahul \"Ray\" Mehta", "Emily Chen", "John O'Brien", "Sam 🚀 Taylor",
        "Tomasz Nowak-Kowalski", "Amélie Poulain", "Sven Svensson", "Ifeoma Adeyemi", "王芳",
    ];
    pub const WORDS: &[&str] =
        &["Support", "Ventas España", "客服", "Nightly", "Überprüfung", "VIP – EMEA", "Default", "Billing/AR"];
    pub const API_APPS: &[&str] =
        &["CX as Code", "Salesforce CTI", "Python SDK", "auditmirror-sim", "Zendesk Integration"];
    pub const UI_APPS: &[&str] = &["", "Genesys Cloud", "Architect", "Genesys Cloud Desktop"];
    pub const PROPS: &[&str] = &["name", "description", "enabled", "state", "division.id", "skills", "queueFlow"];
    pub const DIVISIONS: &[&str] = &["Home", "Ventas España", "客服"];
    pub const FILTERS: &[&str] =
        &["UserId", "TrusteeOrganizationId", "ClientId", "Action", "EntityType", "EntityId"];
    pub const BAD_DATE: &str =
        "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ";
    pub const NO_TOKEN: &str = "No authentication bearer token specified in authorization header.";
    pub const OVER_31_DAYS: &str =
        "The interval may not exceed 31 days. Split the query into shorter intervals.";
    pub const OVER_14_DAYS: &str =
        "The realtime query covers the last 14 days only. Use /api/v2/audits/query for older audits.";
}
pub(super) use tables::*;

/// Every well-formed (or, with `malformed`, every malformed) message with `from ≤
/// eventDate < to` served at `now_us`, as served with `expand=user`, in time order.
pub fn truth(
    sim: &SimState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now_us: i64,
    malformed: bool,
) -> Vec<String> {
    let c = Ctx::new(sim, sim.revision.load(Relaxed));
    let to_us = to.timestamp_micros().min(now_us.saturating_add(1));
    let range = c.tl.range(from.timestamp_micros(), to_us);
    let msgs = range
        .filter(|&i| c.is_malformed(i) == malformed)
        .map(|i| c.msg(i));
    let visible = msgs.filter(|m| sim.visible(c.tag, m.i, m.t_us, now_us));
    visible.map(|m| c.render(&m, true).to_string()).collect()
}

// ---------------------------------------------------------------- messages

/// Message generation at one revision.
pub(super) struct Ctx<'a> {
    pub(super) sim: &'a SimState,
    pub(super) tag: u64,
    pub(super) tl: gen::Timeline,
    pub(super) rev: u32,
}

/// The cheap attributes of message `i`, enough to filter before rendering.
pub(super) struct Msg {
    pub(super) i: u64,
    pub(super) t_us: i64,
    pub(super) svc: usize,
    pub(super) ent: usize,
    pub(super) act: &'static str,
    pub(super) level: &'static str,
    pub(super) user: Option<usize>,
    /// `None`: no client; `Some(None)`: a UI action (`{"id": ""}`).
    pub(super) client: Option<Option<u64>>,
    pub(super) entity_k: u64,
    pub(super) trustee: bool,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(sim: &'a SimState, rev: u32) -> Ctx<'a> {
        let (cfg, tag) = (&sim.cfg, gen::tag("genesys"));
        let origin = cfg.origin.timestamp_micros();
        let end = cfg.end.map(|e| e.timestamp_micros());
        let tl = gen::Timeline::new(cfg.seed, tag, origin, cfg.genesys_per_day, end);
        Ctx { sim, tag, tl, rev }
    }

    /// The `k`th independent hash of message `i`.
    pub(super) fn r(&self, k: u64, i: u64) -> u64 {
        gen::h(self.sim.cfg.seed, self.tag.wrapping_add(k), i)
    }

    pub(super) fn id(&self, kind: &str, k: u64) -> String {
        gen::uuid(self.sim.cfg.seed, gen::tag(kind), k)
    }

    pub(super) fn is_malformed(&self, i: u64) -> bool {
        let every = self.sim.cfg.malformed_every;
        every > 0 && i % every == every / 2
    }

    pub(super) fn msg(&self, i: u64) -> Msg {
        let svc = (self.r(1, i) % SERVICES.len() as u64) as usize;
        let ent = (self.r(2, i) % SERVICES[svc].2.len() as u64) as usize;
        let level = match self.r(4, i) % 100 {
            0..80 => "USER",
            80..95 => "SYSTEM",
            _ => "GENESYS_INTERNAL",
        };
        let has_user = level != "SYSTEM" || self.r(5, i) % 2 == 0;
        let client = match self.r(8, i) % 10 {
            _ if level == "SYSTEM" && self.r(9, i) % 3 == 0 => None,
            0..4 => Some(None),
            x => Some(Some(x % 6)),
        };
        let act = gen::pick(self.r(3, i), SERVICES[svc].2[ent].1);
        let user = has_user.then(|| (self.r(6, i) % USERS.len() as u64) as usize);
        let trustee = level == "GENESYS_INTERNAL" || self.r(11, i) % 25 == 0;
        let (t_us, entity_k) = (self.tl.time(i), self.r(10, i) % 64);
        Msg {
            i,
            t_us,
            svc,
            ent,
            act,
            level,
            user,
            client,
            entity_k,
            trustee,
        }
    }

    pub(super) fn user_id(&self, u: usize) -> String {
        self.id("genesys.user", u as u64)
    }

    pub(super) fn client_id(&self, c: Option<u64>) -> String {
        c.map(|k| self.id("genesys.client", k)).unwrap_or_default()
    }

    pub(super) fn org_id(&self, m: &Msg) -> String {
        self.id("genesys.org", m.trustee as u64)
    }

    pub(super) fn entity_type(&self, m: &Msg) -> &'static str {
        SERVICES[m.svc].2[m.ent].0
    }

    /// The impacted entity's id and name (users come from the user pool).
    pub(super) fn entity(&self, m: &Msg) -> (String, String) {
        let (et, k) = (self.entity_type(m), m.entity_k);
        if et == "User" || et == "AuthUser" {
            let u = (k % USERS.len() as u64) as usize;
            return (self.user_id(u), USERS[u].to_owned());
        }
        let name = match k % 17 {
            0 => String::new(),
            _ => format!("{} {k}", gen::pick(k, WORDS)),
        };
        (self.id(&format!("genesys.entity.{et}"), k), name)
    }

    pub(super) fn matches(&self, q: &Query, m: &Msg) -> bool {
        let svc = &SERVICES[m.svc];
        match &q.service {
            Some(s) if s != svc.0 => return false,
            None if q.realtime && !svc.1 => return false,
            _ => {}
        }
        q.filters.iter().all(|f| match f.property.as_str() {
            "UserId" => m.user.is_some_and(|u| self.user_id(u) == f.value),
            "ClientId" => m.client.is_some_and(|c| self.client_id(c) == f.value),
            "Action" => m.act == f.value,
            "EntityType" => self.entity_type(m) == f.value,
            "EntityId" => self.entity(m).0 == f.value,
            _ => self.org_id(m) == f.value,
        })
    }

    /// `AuditLogMessage` `m` as served (`expand`: with `user.name`).
    pub(super) fn render(&self, m: &Msg, expand: bool) -> Value {
        let (i, seed, cfg) = (m.i, self.sim.cfg.seed, &self.sim.cfg);
        let (svc, et, act) = (SERVICES[m.svc].0, self.entity_type(m), m.act);
        let changed = cfg.changed_every > 0 && i % cfg.changed_every == 0;
        let [a, b, c, d, e, z] = [12, 13, 14, 15, 16, 17].map(|k| self.r(k, i));
        let system = m.level == "SYSTEM";
        let user = m.user.map(|u| {
            let (id, name) = (self.user_id(u), expand.then_some(USERS[u]));
            compact(json!({"id": id, "name": name, "selfUri": format!("/api/v2/users/{id}")}))
        });
        let client = m.client.map(|c| {
            let id = self.client_id(c);
            let uri = c.map(|_| format!("/api/v2/oauth/clients/{id}"));
            compact(json!({"id": id, "selfUri": uri}))
        });
        let ip = |k: u64| match (a >> (8 + k * 8)) % 3 {
            0 => format!("2001:db8:{:x}::{:x}", (a >> 20) & 0xfff, k + 1),
            1 => format!("203.0.113.{}", (a >> (16 + k)) % 254 + 1),
            _ => format!("10.{}.{}.{}", (a >> 24) % 256, (a >> 32) % 256, k + 1),
        };
        let ips: Vec<String> = (0..[0, 1, 1, 2, 3][(a % 5) as usize]).map(ip).collect();
        let (entity_id, mut name) = self.entity(m);
        if changed {
            name = format!("{name} (rev {})", self.rev);
        }
        let message = message(svc, et, act, &name);
        let path = match et {
            "User" => "users",
            "Queue" => "routing/queues",
            "Flow" => "flows",
            "Group" => "groups",
            _ => "",
        };
        let uri = (!path.is_empty() && c % 2 == 0).then(|| format!("/api/v2/{path}/{entity_id}"));
        let entity_name = (changed || c % 5 != 0).then_some(&name);
        let entity = compact(json!({"id": entity_id, "name": entity_name, "selfUri": uri}));
        let status = match d % 100 {
            x if act == "Authenticate" && x < 25 => "FAILURE",
            0..93 => "SUCCESS",
            93..98 => "FAILURE",
            _ => "WARNING",
        };
        let apps = match m.client {
            Some(Some(_)) => API_APPS,
            _ => UI_APPS,
        };
        let transaction = gen::uuid(seed, self.tag ^ 0x7a, i / 4);
        let initiating = match e % 10 {
            0..7 => json!({}),
            _ => json!({"transactionId": transaction, "actionContext": act}),
        };
        let changes = self.property_changes(act, d, changed);
        let context = self.context(et, z);
        let entity_changes = self.entity_changes(act, et, z);
        let mut o = compact(json!({
            "id": gen::uuid(seed, self.tag, i),
            "userHomeOrgId": (!system || a % 10 != 0).then(|| self.org_id(m)),
            "user": user, "client": client, "remoteIp": (!system).then_some(ips),
            "serviceName": svc, "level": m.level, "eventDate": fmt_ms(m.t_us),
            "message": (b % 10 < 7).then_some(message),
            "action": act, "entity": entity, "entityType": et, "status": status,
            "application": (e % 10 != 0).then(|| gen::pick(e >> 8, apps)),
            "initiatingAction": initiating,
            "transactionInitiator": (e % 20 != 19).then_some((e >> 8) % 3 == 0),
            "propertyChanges": (changed || !changes.is_empty() || d % 10 != 0).then_some(changes),
            "context": context, "entityChanges": entity_changes,
        }));
        if self.is_malformed(i) {
            let (key, bad) = match (i / cfg.malformed_every) % 4 {
                0 => ("eventDate", json!("yesterday")),
                1 => ("eventDate", json!("2026-13-45T99:00:00Z")),
                2 => ("id", json!(i)),
                _ => ("remoteIp", json!("10.1.2.3, 2001:db8::1")),
            };
            o[key] = bad;
        }
        o
    }

    /// `propertyChanges`: an Update changes one or two properties; a changed
    /// record (`changed_every`) also its revision.
    fn property_changes(&self, act: &str, d: u64, changed: bool) -> Vec<Value> {
        let mut changes: Vec<Value> = Vec::new();
        for k in 0..(act == "Update") as u64 * (1 + d % 2) {
            let prop = *gen::pick(d >> (8 + 8 * k), PROPS);
            let (old, new) = match prop {
                "enabled" => (json!(["true"]), json!(["false"])),
                "skills" => (json!([]), json!(["Español", "Billing"])),
                _ => (json!([format!("{prop}-{k}")]), json!([format!("{prop} ✓")])),
            };
            changes.push(json!({"property": prop, "oldValues": old, "newValues": new}));
        }
        if changed {
            let old: Vec<String> = self.rev.checked_sub(1).iter().map(u32::to_string).collect();
            let new = [self.rev.to_string()];
            changes.push(json!({"property": "revision", "oldValues": old, "newValues": new}));
        }
        changes
    }

    /// `context`: absent, empty, an export's, a division, or free text.
    fn context(&self, et: &str, z: u64) -> Option<Value> {
        let division = (
            self.id("genesys.division", z % 3),
            DIVISIONS[(z % 3) as usize],
        );
        match z % 5 {
            0 => None,
            1 => Some(json!({})),
            2 if et == "Exports" => Some(json!({"ExportType": "CSV", "HasEmail": "true"})),
            2 | 3 => Some(json!({"divisionId": division.0, "divisionName": division.1})),
            _ => Some(json!({"reason": "Überprüfung ✓", "source": "UI"})),
        }
    }

    /// `entityChanges`: the user a membership action added or removed.
    fn entity_changes(&self, act: &str, et: &str, z: u64) -> Option<Value> {
        let members = matches!(act, "MemberAdd" | "MemberRemove" | "Assign" | "Unassign");
        if !members {
            return (z % 10 != 9).then(|| json!([]));
        }
        let u = ((z >> 8) % USERS.len() as u64) as usize;
        let (old, new) = match act {
            "MemberAdd" | "Assign" => (json!([]), json!([et])),
            _ => (json!([et]), json!([])),
        };
        let id = self.user_id(u);
        let change = json!({"entityId": id, "entityName": USERS[u], "entityType": "User",
                            "oldValues": old, "newValues": new});
        Some(json!([change]))
    }

    /// Indexes that may hold results of `q` at `now_us` (never past now).
    pub(super) fn span(&self, q: &Query, now_us: i64) -> (u64, u64) {
        let to_us = q.to_us.min(now_us.saturating_add(1));
        let r = self.tl.range(q.from_us, to_us);
        (r.start, r.end)
    }

    /// The next matching message visible at `now_us`, scanning from `pos`
    /// (ascending: the next index to look at; descending: one past it).
    pub(super) fn next(
        &self,
        q: &Query,
        (lo, hi): (u64, u64),
        pos: &mut u64,
        now_us: i64,
    ) -> Option<Msg> {
        loop {
            if (q.descending && *pos <= lo) || (!q.descending && *pos >= hi) {
                return None;
            }
            let i = if q.descending { *pos - 1 } else { *pos };
            *pos = if q.descending { i } else { i + 1 };
            let m = self.msg(i);
            if self.sim.visible(self.tag, i, m.t_us, now_us) && self.matches(q, &m) {
                return Some(m);
            }
        }
    }
}

/// `message`: its code, text, template and parameters.
fn message(svc: &str, et: &str, act: &str, name: &str) -> Value {
    let code = format!("{svc}_{et}_{act}").to_uppercase();
    let params = json!({"action": act, "entityType": et, "entityName": name});
    let text = format!("{act} {et} '{name}'");
    let template = "{action} {entityType} '{entityName}'";
    json!({"localizableMessageCode": code, "message": text,
           "messageWithParams": template, "messageParams": params})
}
