//! # preflight
//!
//! Safety-and-readiness crates for services, containers and CI pipelines. Each crate is
//! usable on its own; this umbrella re-exports them behind features of the same name.
//!
//! | feature | crate | what it is for |
//! |---|---|---|
//! | `readiness` | [`readiness`] | wait until services (TCP, HTTP, PostgreSQL, Redis, QuestDB, …) are really ready, with Docker HEALTHCHECK semantics |
//! | `test-guard` | [`test_guard`] | refuse to let tests or destructive commands touch a production database |
//! | `env-validate` | [`env_validate`] | validate the environment and `.env` files against a schema, lint them, diff them with `.env.example` |
//! | `asset-watch` | [`asset_watch`] | rerun build commands on file changes and run dev processes side by side |
//!
//! ```
//! # #[cfg(feature = "readiness")]
//! # {
//! use preflight::readiness::{Target, Wait};
//!
//! // Wait for a service (here a listener of our own) instead of `sleep 5`.
//! let service = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let target: Target = format!("tcp://{}", service.local_addr()?).parse()?;
//! let report = Wait::new([target]).run_blocking()?;
//! assert_eq!(report.targets.len(), 1);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! All four are enabled by default. A crate that needs only one can depend on it directly
//! (`preflight-readiness`, …) or on `preflight` with `default-features = false`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "readiness")]
#[doc(inline)]
pub use preflight_readiness as readiness;

#[cfg(feature = "test-guard")]
#[doc(inline)]
pub use preflight_test_guard as test_guard;

#[cfg(feature = "env-validate")]
#[doc(inline)]
pub use preflight_env_validate as env_validate;

#[cfg(feature = "asset-watch")]
#[doc(inline)]
pub use preflight_asset_watch as asset_watch;
