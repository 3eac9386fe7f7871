//! A small hostile HTTP/1.1 server on loopback, for what no honest vendor does:
//! bodies of any size, bodies that drip a byte at a time, 500s that echo the
//! request's headers. It hands Genesys-shaped tokens out at `/oauth/token` so
//! both connectors reach their API calls. Every connection ends on its own.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The access token `/oauth/token` issues.
pub const TOKEN: &str = "hostile-access-token-0123456789";

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// 200 with a chunked body of this many bytes, no Content-Length.
    Huge(u64),
    /// 200 that declares this Content-Length and sends it.
    Declared(u64),
    /// 200 whose body drips one byte per `Duration`, for at most 10 minutes.
    Drip(Duration),
    /// 500 whose body repeats every request header, Authorization included.
    Echo500,
}

pub struct Hostile {
    pub base_url: String,
    pub requests: Arc<AtomicU64>,
}

pub async fn start(mode: Mode) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicU64::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Relaxed);
            tokio::spawn(serve(sock, mode));
        }
    });
    Hostile { base_url, requests }
}

/// Reads one request's head (at most 64 KB).
async fn head(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65_536 {
        let n = sock.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

async fn serve(mut sock: TcpStream, mode: Mode) {
    let Some(head) = head(&mut sock).await else {
        return;
    };
    if head.starts_with("POST /oauth/token") {
        let body = format!(
            "{{\"access_token\":\"{TOKEN}\",\"token_type\":\"bearer\",\"expires_in\":3600}}"
        );
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(reply.as_bytes()).await;
        return;
    }
    let _ = match mode {
        Mode::Huge(n) => huge(&mut sock, n, false).await,
        Mode::Declared(n) => huge(&mut sock, n, true).await,
        Mode::Drip(every) => drip(&mut sock, every).await,
        Mode::Echo500 => {
            let body = format!(
                "{{\"message\":\"internal error handling request: {}\"}}",
                head.replace('\r', "")
                    .replace('\n', " | ")
                    .replace('"', "'")
            );
            let reply = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(reply.as_bytes()).await
        }
    };
}

async fn huge(sock: &mut TcpStream, n: u64, declared: bool) -> std::io::Result<()> {
    let head = if declared {
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {n}\r\n\r\n")
    } else {
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_owned()
    };
    sock.write_all(head.as_bytes()).await?;
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0u64;
    while sent < n {
        let k = (n - sent).min(chunk.len() as u64) as usize;
        if declared {
            sock.write_all(&chunk[..k]).await?;
        } else {
            sock.write_all(format!("{k:x}\r\n").as_bytes()).await?;
            sock.write_all(&chunk[..k]).await?;
            sock.write_all(b"\r\n").await?;
        }
        sent += k as u64;
    }
    if !declared {
        sock.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

async fn drip(sock: &mut TcpStream, every: Duration) -> std::io::Result<()> {
    sock.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{",
    )
    .await?;
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(every).await;
        sock.write_all(b" ").await?;
    }
    Ok(())
}
