//! `check-config --connect` tries each account's credentials with one cheap
//! request: exit 0 when all work, 1 naming the account that does not.

mod common;

use common::process::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_reports_each_account_and_fails_on_bad_credentials() {
    let mut cfg = sim_config(21, 1, 200);
    cfg.genesys_per_day = 100;
    let env = Env::start(cfg, "").await;
    let c = env.sim.state.cfg.credentials.clone();
    let genesys = format!(
        "\n[[genesys]]\nname = \"emea\"\napi_base_url = \"{b}\"\nlogin_base_url = \"{b}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n",
        c.genesys_client_id,
        c.genesys_client_secret,
        b = env.sim.base_url()
    );
    let mut text = std::fs::read_to_string(&env.config).unwrap();
    text.push_str(&genesys);
    std::fs::write(&env.config, &text).unwrap();
    let (out, _) = run_bin(&env.config, &["check-config", "--connect"]).await;
    let all = self::text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("gong/acme") && all.contains("genesys/emea"),
        "{all}"
    );
    assert_eq!(all.matches(" ok ").count(), 2, "{all}");
    // A wrong Genesys secret: exit 1, naming the account, never the secret.
    std::fs::write(
        &env.config,
        text.replace(
            &format!("client_secret = \"{}\"", c.genesys_client_secret),
            "client_secret = \"wrong-secret-123\"",
        ),
    )
    .unwrap();
    let (out, _) = run_bin(&env.config, &["check-config", "--connect"]).await;
    let all = self::text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("genesys/emea") && all.contains("FAILED"),
        "{all}"
    );
    assert!(
        all.contains("gong/acme                ok"),
        "the Gong account still works: {all}"
    );
    assert!(!all.contains("wrong-secret-123"), "{all}");
}
