//! TLS as the product does it (rustls with ring): a server whose certificate no
//! trusted authority signed is refused before any request is sent, and the
//! error says it was the certificate.

use auditmirror::http::{Counters, HttpClient, Policy, Verdict};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_refused() {
    auditmirror::http::install_tls();
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let certs: Vec<_> = CertificateDer::pem_file_iter(format!("{data}/selfsigned-cert.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{data}/selfsigned-key.pem")).unwrap();
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (connections, handshakes) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let (c, h) = (connections.clone(), handshakes.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let (acceptor, h) = (acceptor.clone(), h.clone());
            tokio::spawn(async move {
                if acceptor.accept(socket).await.is_ok() {
                    h.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });

    let policy = Policy {
        max_tries: 2,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..Policy::default()
    };
    let client = HttpClient::new(policy, None, None).unwrap();
    let url = format!("https://{addr}/v2/logs");
    let got = client
        .call(
            &Counters::default(),
            "a test request",
            |c| c.get(&url),
            |_| Verdict::Done(()),
        )
        .await;
    let error = got
        .expect_err("a self-signed certificate must be refused")
        .to_string();
    assert!(error.contains("certificate"), "{error}");
    assert!(
        connections.load(Ordering::SeqCst) >= 1,
        "the client reached the server"
    );
    assert_eq!(
        handshakes.load(Ordering::SeqCst),
        0,
        "no handshake completed"
    );
}
