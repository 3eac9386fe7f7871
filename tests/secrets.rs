//! No secret reaches stdout, stderr or the database during a real sync of both
//! vendors, even at trace level (reqwest, hyper and rustls log there too).

mod common;

use base64::Engine as _;
use common::*;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_sync_shows_no_secret() {
    let mut cfg = sim_config(11, 2, 300);
    cfg.genesys_per_day = 300;
    cfg.transaction_polls = 0;
    let env = Env::start(cfg, "").await;
    let c = env.sim.state.cfg.credentials.clone();
    let genesys = format!(
        "\n[[genesys]]\nname = \"emea\"\napi_base_url = \"{b}\"\nlogin_base_url = \"{b}\"\nclient_id = \"{}\"\n\
         client_secret_env = \"AUDITMIRROR_TEST_GENESYS\"\nrequests_per_minute = 100000\n",
        c.genesys_client_id,
        b = env.sim.base_url()
    );
    let mut text = std::fs::read_to_string(&env.config).unwrap();
    text.push_str(&genesys);
    std::fs::write(&env.config, text).unwrap();
    let out = tokio::task::spawn_blocking({
        let config = env.config.clone();
        let secret = c.genesys_client_secret.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_auditmirror"))
                .arg("--config")
                .arg(&config)
                .arg("sync")
                .env("RUST_LOG", "trace")
                .env("AUDITMIRROR_TEST_GENESYS", secret)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{}",
        &all[all.len().saturating_sub(2000)..]
    );
    assert!(
        all.len() > 10_000,
        "trace logging produced too little to mean anything"
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secrets = [
        c.gong_access_key_secret.clone(),
        b64(&format!(
            "{}:{}",
            c.gong_access_key, c.gong_access_key_secret
        )),
        c.genesys_client_secret.clone(),
        b64(&format!(
            "{}:{}",
            c.genesys_client_id, c.genesys_client_secret
        )),
    ];
    for s in &secrets {
        assert!(!all.contains(s.as_str()), "secret {s} in the output");
    }
    let db = std::fs::read(&env.db).unwrap();
    let wal = std::fs::read(env.db.with_extension("sqlite-wal")).unwrap_or_default();
    for s in &secrets {
        let found = |bytes: &[u8]| bytes.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(!found(&db) && !found(&wal), "secret {s} in the database");
    }
}
