//! HTTP and HTTPS against a local server started by the test.
#![cfg(feature = "http")]

use std::time::Duration;

use preflight_readiness::{HttpProbe, Policy, StatusRule, Target, Wait};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::support::{GENEROUS, policy};

async fn wait(
    target: Target,
    deadline: Duration,
) -> preflight_readiness::Result<preflight_readiness::Report> {
    Wait::new([target]).policy(policy(deadline)).run().await
}

fn http(url: &str) -> preflight_readiness::HttpProbeBuilder {
    HttpProbe::builder(url)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_is_not_ready_and_a_200_is() {
    let server = HttpServer::start(503, "starting").await;
    let url = server.url("http", "/health");
    let err = wait(Target::parse(&url).unwrap(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert!(err.to_string().contains("expected 200-299"), "{err}");
    server.set(200, "ok");
    wait(Target::parse(&url).unwrap(), GENEROUS).await.unwrap();
    let requests = server.requests.lock().unwrap();
    let last = requests.last().unwrap();
    assert!(last.starts_with("GET /health HTTP/1.1"), "{last}");
    assert!(last.to_lowercase().contains("connection: close"), "{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_rule_body_text_regex_and_headers() {
    let server = HttpServer::start(204, "").await;
    let url = server.url("http", "/");
    // 204 is 2xx; a rule of exactly 200 rejects it.
    wait(Target::parse(&url).unwrap(), GENEROUS).await.unwrap();
    let only_200 = http(&url).status(StatusRule::exactly(200)).build().unwrap();
    let err = wait(Target::new(&url, only_200), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("HTTP 204 No Content (expected 200)"),
        "{err}"
    );

    server.set(200, r#"{"status":"degraded"}"#);
    let contains = http(&url)
        .body_contains(r#""status":"ok""#)
        .build()
        .unwrap();
    let err = wait(Target::new(&url, contains), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not contain"), "{err}");
    server.set(200, r#"{"status":"ok"}"#);
    let regex = http(&url)
        .body_regex(r#""status":\s*"ok""#)
        .header("X-Probe", "preflight")
        .method("GET")
        .build()
        .unwrap();
    wait(Target::new(&url, regex), GENEROUS).await.unwrap();
    let requests = server.requests.lock().unwrap();
    assert!(
        requests
            .last()
            .unwrap()
            .to_lowercase()
            .contains("x-probe: preflight")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_a_custom_ca_without_it_and_with_verification_skipped() {
    let (ca_pem, acceptor) = self_signed();
    let server = HttpServer::start_with(200, "ok", Some(acceptor)).await;
    let url = server.url("https", "/");

    let unknown_ca = Target::parse(&url).unwrap();
    let err = wait(unknown_ca, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let trusted = http(&url).ca_file(&ca_file).build().unwrap();
    wait(Target::new(&url, trusted), GENEROUS).await.unwrap();

    let insecure = http(&url).insecure(true).build().unwrap();
    wait(Target::new(&url, insecure), GENEROUS).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn http_server_that_starts_later() {
    let port = preflight_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let target = Target::parse(&url).unwrap();
    let failed = crate::support::FirstFailure::default();
    let server = tokio::spawn({
        let failed = failed.clone();
        async move {
            failed.wait().await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            while let Ok((mut stream, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0_u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            }
        }
    });
    let report = Wait::new([target])
        .policy(Policy::builder().deadline(GENEROUS).build().unwrap())
        .on_event(failed.sink())
        .run()
        .await
        .unwrap();
    server.abort();
    assert!(report.targets[0].attempts > 1);
}

/// What the test HTTP server answers.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    body: String,
}

/// A small HTTP/1.1 server (plain or TLS) whose answer the test can change.
struct HttpServer {
    addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl HttpServer {
    async fn start(status: u16, body: &str) -> Self {
        Self::start_with(status, body, None).await
    }

    async fn start_with(status: u16, body: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(Answer {
            status,
            body: body.to_owned(),
        }));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (task_answer, task_requests) = (Arc::clone(&answer), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let answer = task_answer.lock().unwrap().clone();
                let requests = Arc::clone(&task_requests);
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, &answer, &requests).await;
                            }
                        }
                        None => serve(stream, &answer, &requests).await,
                    }
                });
            }
        });
        Self {
            addr,
            answer,
            requests,
            task,
        }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://localhost:{}{path}", self.addr.port())
    }

    fn set(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap() = Answer {
            status,
            body: body.to_owned(),
        };
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<S: AsyncReadExt + AsyncWriteExt + Unpin>(
    mut stream: S,
    answer: &Answer,
    requests: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut buf = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    requests
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).into_owned());
    let response = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        answer.status,
        answer.body.len(),
        answer.body
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A self-signed certificate for `localhost` and a TLS acceptor serving it.
fn self_signed() -> (String, tokio_rustls::TlsAcceptor) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = cert.cert.pem();
    let key = rustls_key(cert.signing_key.serialize_der());
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    (pem, tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn rustls_key(der: Vec<u8>) -> tokio_rustls::rustls::pki_types::PrivateKeyDer<'static> {
    tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(der.into())
}
