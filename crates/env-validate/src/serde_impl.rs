//! `serde` support: deserialising the validated values into a user's struct. Keys are
//! lowercased (`DATABASE_URL` → `database_url`); typed values become JSON numbers,
//! booleans and arrays, so `u16`, `bool` and `Vec<_>` fields work. serde's messages quote
//! values, so every value is masked in the error.

use serde::de::DeserializeOwned;

use crate::{Error, Result, TypedValue, Values};

fn to_json(t: &TypedValue) -> serde_json::Value {
    use serde_json::Value as J;
    match t {
        TypedValue::Bool(b) => J::Bool(*b),
        TypedValue::Int(n) => J::from(*n),
        TypedValue::Float(f) => J::from(*f),
        TypedValue::Port(p) => J::from(*p),
        TypedValue::Url(u) => J::String(u.to_string()),
        TypedValue::Duration(d) => J::String(humantime::format_duration(*d).to_string()),
        TypedValue::Path(p) => J::String(p.display().to_string()),
        TypedValue::Json(j) => j.clone(),
        TypedValue::List(items) => J::Array(items.iter().map(to_json).collect()),
        TypedValue::String(s)
        | TypedValue::Host(s)
        | TypedValue::Email(s)
        | TypedValue::Enum(s) => J::String(s.clone()),
    }
}

impl Values {
    /// Deserialises the values into `T`, field names being the lowercased keys.
    ///
    /// ```
    /// # use preflight_env_validate::{Document, Validator, Schema, ValueType};
    /// #[derive(serde::Deserialize)]
    /// struct Config { port: u16, debug: bool }
    ///
    /// let schema = Schema::builder()
    ///     .key("PORT", ValueType::port(), |k| k.required())
    ///     .key("DEBUG", ValueType::bool(), |k| k.default("false"))
    ///     .build()?;
    /// let report = Validator::new()
    ///     .schema(schema)
    ///     .env_document(Document::parse(".env", "PORT=8080\n"))
    ///     .run()?;
    /// let config: Config = report.values().deserialize()?;
    /// assert_eq!((config.port, config.debug), (8080, false));
    /// # Ok::<(), preflight_env_validate::Error>(())
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        let map: serde_json::Map<String, serde_json::Value> = self
            .map
            .iter()
            .map(|(k, v)| {
                let j = v
                    .typed
                    .as_deref()
                    .map_or_else(|| serde_json::Value::String(v.raw.clone()), to_json);
                (k.to_lowercase(), j)
            })
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| Error::Deserialize {
            message: self.mask(&e.to_string()),
        })
    }

    /// Replaces every value (raw and as serde would quote it) in `msg` with `<hidden>`,
    /// longest first so a value containing another is masked whole.
    fn mask(&self, msg: &str) -> String {
        let mut vals: Vec<String> = Vec::new();
        for v in self.map.values() {
            vals.push(v.raw.clone());
            if let Some(t) = &v.typed {
                let j = to_json(t);
                vals.push(j.to_string());
                if let serde_json::Value::String(s) = j {
                    vals.push(s);
                }
            }
        }
        vals.retain(|v| !v.is_empty());
        vals.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut out = msg.to_owned();
        for v in vals {
            for quoted in [format!("\"{v}\""), format!("`{v}`")] {
                out = out.replace(&quoted, "<hidden>");
            }
        }
        // Anything still quoted might be a value serde reformatted: mask it too.
        match regex::Regex::new(r#""[^"]*""#) {
            Ok(r) => r.replace_all(&out, "<hidden>").into_owned(),
            Err(_) => out,
        }
    }
}
