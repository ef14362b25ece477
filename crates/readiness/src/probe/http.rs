//! HTTP and HTTPS: ready when the status matches the rule (2xx unless configured; never
//! "any response") and, optionally, the body contains a text or matches a regex. Each
//! attempt opens a fresh connection and closes it itself (no pooling: a pooled connection
//! could answer for a server that no longer accepts new ones; and servers such as QuestDB
//! keep a connection open whatever `Connection: close` says, while accepting only a
//! limited number at once).

use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;

use reqwest::header::{CONNECTION, HeaderMap, HeaderName, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};
use crate::mask::mask;
use crate::probe::{Probe, ProbeContext, ProbeFailure, ProbeFuture};

/// The most body a probe reads when it has a body rule.
const MAX_BODY: usize = 1024 * 1024;

/// Which HTTP status codes count as ready: a set of inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRule {
    ranges: Vec<RangeInclusive<u16>>,
}

impl Default for StatusRule {
    /// 200 to 299.
    fn default() -> Self {
        Self {
            ranges: vec![200..=299],
        }
    }
}

impl StatusRule {
    /// Exactly one status code.
    #[must_use]
    pub fn exactly(code: u16) -> Self {
        Self {
            ranges: vec![code..=code],
        }
    }

    /// Parses a comma-separated list of codes and ranges: `200`, `200-399`, `2xx`,
    /// `200,204,301-302`.
    ///
    /// # Errors
    /// A message naming the part that is not a code from 100 to 599 or a range of them.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            let range = if let Some(class) = part.strip_suffix("xx").or(part.strip_suffix("XX")) {
                let digit: u16 = class
                    .parse()
                    .ok()
                    .filter(|d| (1..=5).contains(d))
                    .ok_or_else(|| format!("status class `{part}` is not 1xx to 5xx"))?;
                digit * 100..=digit * 100 + 99
            } else if let Some((low, high)) = part.split_once('-') {
                code(low.trim(), part)?..=code(high.trim(), part)?
            } else {
                let c = code(part, part)?;
                c..=c
            };
            if range.is_empty() || !(100..=599).contains(range.start()) || *range.end() > 599 {
                return Err(format!("status rule `{part}` is not within 100-599"));
            }
            ranges.push(range);
        }
        Ok(Self { ranges })
    }

    /// Whether `status` counts as ready.
    #[must_use]
    pub fn matches(&self, status: u16) -> bool {
        self.ranges.iter().any(|r| r.contains(&status))
    }
}

fn code(text: &str, part: &str) -> std::result::Result<u16, String> {
    text.parse()
        .map_err(|_| format!("status `{part}` is not a number, range (200-299) or class (2xx)"))
}

impl fmt::Display for StatusRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .ranges
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Ready when a request gets a matching status (and body, if a body rule is set).
pub struct HttpProbe {
    url: reqwest::Url,
    display: String,
    client: reqwest::Client,
    method: reqwest::Method,
    headers: HeaderMap,
    status: StatusRule,
    body_contains: Option<String>,
    body_regex: Option<regex::Regex>,
}

impl fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProbe")
            .field("url", &self.display)
            .field("method", &self.method)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl HttpProbe {
    /// Starts a builder for `url` (`http://` or `https://`).
    pub fn builder(url: impl Into<String>) -> HttpProbeBuilder {
        HttpProbeBuilder {
            url: url.into(),
            method: "GET".to_owned(),
            headers: Vec::new(),
            status: StatusRule::default(),
            body_contains: None,
            body_regex: None,
            ca_files: Vec::new(),
            ca_pems: Vec::new(),
            insecure: false,
            follow_redirects: true,
        }
    }

    async fn attempt(&self, cx: &ProbeContext) -> std::result::Result<(), ProbeFailure> {
        let mut response = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .header(CONNECTION, "close")
            .timeout(cx.timeout())
            .send()
            .await
            .map_err(|e| ProbeFailure::from_error(&e.without_url()))?;
        let status = response.status();
        if !self.status.matches(status.as_u16()) {
            return Err(ProbeFailure::new(format!(
                "HTTP {status} (expected {})",
                self.status
            )));
        }
        if self.body_contains.is_none() && self.body_regex.is_none() {
            return Ok(());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ProbeFailure::from_error(&e.without_url()).context("reading body"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_BODY {
                body.truncate(MAX_BODY);
                break;
            }
        }
        let body = String::from_utf8_lossy(&body);
        if let Some(needle) = &self.body_contains
            && !body.contains(needle.as_str())
        {
            return Err(ProbeFailure::new(format!(
                "HTTP {status} but the body does not contain `{needle}`"
            )));
        }
        if let Some(regex) = &self.body_regex
            && !regex.is_match(&body)
        {
            return Err(ProbeFailure::new(format!(
                "HTTP {status} but the body does not match /{regex}/"
            )));
        }
        Ok(())
    }
}

impl Probe for HttpProbe {
    fn probe<'a>(&'a self, cx: &'a mut ProbeContext) -> ProbeFuture<'a> {
        Box::pin(async move { self.attempt(cx).await })
    }
}

/// Builds an [`HttpProbe`]; [`HttpProbeBuilder::build`] checks every option.
#[derive(Clone)]
#[must_use]
pub struct HttpProbeBuilder {
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    status: StatusRule,
    body_contains: Option<String>,
    body_regex: Option<String>,
    ca_files: Vec<PathBuf>,
    ca_pems: Vec<Vec<u8>>,
    insecure: bool,
    follow_redirects: bool,
}

impl fmt::Debug for HttpProbeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProbeBuilder")
            .field("url", &mask(&self.url))
            .field("method", &self.method)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl HttpProbeBuilder {
    /// The request method (default `GET`).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into();
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Which status codes count as ready (default 2xx).
    pub fn status(mut self, status: StatusRule) -> Self {
        self.status = status;
        self
    }

    /// Requires the body to contain `text`.
    pub fn body_contains(mut self, text: impl Into<String>) -> Self {
        self.body_contains = Some(text.into());
        self
    }

    /// Requires the body to match `regex`.
    pub fn body_regex(mut self, regex: impl Into<String>) -> Self {
        self.body_regex = Some(regex.into());
        self
    }

    /// Trusts the CA certificates in this PEM file as well as the built-in roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Trusts the CA certificates in this PEM text as well as the built-in roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }

    /// Skips certificate verification (self-signed test servers; as Kubernetes' HTTPS
    /// probes do). The TLS handshake still has to succeed.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Follows redirects (default, up to 10) or judges the redirect status itself.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Checks every option and builds the probe.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] for a bad URL; [`Error::InvalidProbe`] for a bad method,
    /// header, regex or CA file, naming it.
    pub fn build(self) -> Result<HttpProbe> {
        let display = mask(&self.url);
        let invalid = |reason: String| Error::InvalidProbe {
            target: display.clone(),
            reason,
        };
        let url = reqwest::Url::parse(&self.url).map_err(|e| Error::InvalidTarget {
            spec: display.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::InvalidTarget {
                spec: display,
                reason: "expected an http:// or https:// URL".to_owned(),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::InvalidTarget {
                spec: display,
                reason: "missing host".to_owned(),
            });
        }
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| invalid(format!("`{}` is not an HTTP method", self.method)))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
            headers.append(header, value);
        }
        let body_regex = self
            .body_regex
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| invalid(format!("body regex: {e}")))?;
        let mut pems = self.ca_pems.clone();
        for path in &self.ca_files {
            pems.push(
                std::fs::read(path)
                    .map_err(|e| invalid(format!("cannot read CA file {}: {e}", path.display())))?,
            );
        }
        let tls = tls_config(&pems, self.insecure).map_err(invalid)?;
        let redirect = if self.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            // A probe must reach the service itself, not a proxy (Kubernetes ignores
            // proxy variables for the same reason).
            .no_proxy()
            // `localhost` is both loopbacks whatever the hosts file says (see net.rs).
            .dns_resolver(std::sync::Arc::new(crate::net::Resolver))
            .pool_max_idle_per_host(0)
            .redirect(redirect)
            .user_agent(concat!("preflight-readiness/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(ProbeFailure::from_error(&e).to_string()))?;
        Ok(HttpProbe {
            url,
            display,
            client,
            method,
            headers,
            status: self.status,
            body_contains: self.body_contains,
            body_regex,
        })
    }
}

/// A rustls config on the ring provider: the Mozilla roots plus the given CAs, or no
/// verification at all when `insecure`.
fn tls_config(
    ca_pems: &[Vec<u8>],
    insecure: bool,
) -> std::result::Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    if insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for pem in ca_pems {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("CA certificate: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA certificate: {e}"))?;
            found += 1;
        }
        if found == 0 {
            return Err("the CA PEM holds no certificate".to_owned());
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// Accepts any certificate but still checks the handshake signatures, so the peer must
/// hold the key of the certificate it shows.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_rules_parse_codes_ranges_and_classes() {
        let rule = StatusRule::parse("200,204, 301-302,4xx").unwrap();
        for ok in [200, 204, 301, 302, 404] {
            assert!(rule.matches(ok), "{ok}");
        }
        for bad in [201, 303, 500] {
            assert!(!rule.matches(bad), "{bad}");
        }
        assert_eq!(rule.to_string(), "200,204,301-302,400-499");
        assert!(StatusRule::default().matches(204));
        assert!(!StatusRule::default().matches(503));
    }

    #[test]
    fn bad_status_rules_name_the_part() {
        for (bad, part) in [
            ("abc", "abc"),
            ("200-", "200-"),
            ("700", "700"),
            ("300-200", "300-200"),
            ("9xx", "9xx"),
        ] {
            let err = StatusRule::parse(bad).unwrap_err();
            assert!(err.contains(part), "{bad}: {err}");
        }
    }

    #[test]
    fn builder_names_bad_options() {
        let err = HttpProbe::builder("http://h/")
            .header("bad header", "x")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("bad header"), "{err}");
        let err = HttpProbe::builder("http://h/")
            .body_regex("(")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("body regex"), "{err}");
        let err = HttpProbe::builder("http://u:s3cret@h/")
            .ca_file("/nonexistent/ca.pem")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = HttpProbe::builder("ftp://h/").build().unwrap_err();
        assert!(err.to_string().contains("http://"), "{err}");
    }
}
