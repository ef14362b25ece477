//! Commands as `concurrently` takes them on its command line: `npm:`/`yarn:`/`pnpm:`/
//! `bun:` shortcuts, wildcards over `package.json` scripts (`npm:watch-*`, with an
//! omission `npm:lint:*(!fix)`), passthrough arguments (`{1}`, `{@}`, `{*}`), and
//! `concurrently`'s naming rule.
//!
//! Naming: a shortcut is named after its script unless a name was given; a wildcard
//! expands to one command per matching script (in `package.json` order), named after
//! the part the `*` matched, after the given name if there is one. A command left
//! without a name is named after its index, which is also what `concurrently` prints.

use std::path::Path;

use crate::error::{Error, Result};

/// One command from the command line, expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpandedCommand {
    /// Its name: given, derived from the script, or its index.
    pub name: String,
    /// The shell line to run.
    pub line: String,
}

/// Expands command-line commands as `concurrently` does.
///
/// * `names[i]` names command `i` (missing or empty: derived, see the module docs);
/// * `package_json` is the text of `package.json` for wildcards (`None`: no file, so a
///   wildcard matches nothing, which is an error naming it);
/// * `passthrough` is `Some(args)` with `-P`: `{1}`…`{9}` become the arguments shell-
///   quoted, `{@}` all of them quoted one by one, `{*}` all of them as one quoted word;
///   `\{1}` stays literal.
///
/// ```
/// use preflight_asset_watch::expand_commands;
/// let pkg = r#"{"scripts": {"watch-js": "esbuild --watch", "watch-css": "tailwindcss -w", "build": "x"}}"#;
/// let cmds = expand_commands(&["npm:watch-*".into(), "echo {1}".into()], &[], Some(pkg), Some(&["it's".into()]))?;
/// let got: Vec<(&str, &str)> = cmds.iter().map(|c| (c.name.as_str(), c.line.as_str())).collect();
/// assert_eq!(got, [("js", "npm run watch-js"), ("css", "npm run watch-css"), ("2", r#"echo 'it'"'"'s'"#)]);
/// # Ok::<(), preflight_asset_watch::Error>(())
/// ```
///
/// # Errors
/// A wildcard that matches no script, or `package.json` that is not valid JSON; every
/// problem is listed.
pub fn expand_commands(
    commands: &[String],
    names: &[String],
    package_json: Option<&str>,
    passthrough: Option<&[String]>,
) -> Result<Vec<ExpandedCommand>> {
    let mut problems = Vec::new();
    let mut scripts: Option<Vec<String>> = None;
    let mut out: Vec<(Option<String>, String)> = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let given = names.get(i).filter(|n| !n.is_empty()).cloned();
        let mut line = command.clone();
        let mut name = given.clone();
        if let Some((runner, script, args)) = shortcut(&line) {
            name = name.or_else(|| Some(script.to_owned()));
            line = format!("{runner} {script}{args}");
        }
        if let Some(args) = passthrough {
            line = expand_arguments(&line, args);
        }
        match wildcard(&line) {
            None => out.push((name, line)),
            Some(w) => {
                let list = scripts.get_or_insert_with(|| match package_json {
                    None => Vec::new(),
                    Some(text) => script_names(text).unwrap_or_else(|e| {
                        problems.push(format!("package.json: {e}"));
                        Vec::new()
                    }),
                });
                // A given name other than the glob itself becomes a prefix.
                let prefix = given.filter(|g| g != w.glob).unwrap_or_default();
                let before = out.len();
                for script in list.iter() {
                    if let Some(matched) = w.matches(script) {
                        out.push((
                            Some(format!("{prefix}{matched}")),
                            format!("{} {script}{}", w.runner, w.args),
                        ));
                    }
                }
                if out.len() == before {
                    problems.push(format!(
                        "`{command}`: no script in package.json matches `{}`",
                        w.glob
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Config { problems });
    }
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, (name, line))| ExpandedCommand {
            name: name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| i.to_string()),
            line,
        })
        .collect())
}

/// Reads `package.json` from `dir`, if there is one.
///
/// # Errors
/// The file exists but cannot be read.
pub fn read_package_json(dir: &Path) -> Result<Option<String>> {
    let path = dir.join("package.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::ConfigFile { path, source }),
    }
}

/// `npm:watch-js --x` → (`npm run`, `watch-js`, ` --x`).
fn shortcut(line: &str) -> Option<(&'static str, &str, &str)> {
    let (tool, rest) = line.split_once(':')?;
    let runner = match tool {
        "npm" => "npm run",
        "yarn" => "yarn run",
        "pnpm" => "pnpm run",
        "bun" => "bun run",
        "node" => "node --run",
        "deno" => "deno task",
        _ => return None,
    };
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (script, args) = rest.split_at(end);
    (!script.is_empty()).then_some((runner, script, args))
}

struct Wildcard<'a> {
    runner: &'a str,
    glob: &'a str,
    args: &'a str,
    before: String,
    after: String,
    omit: Option<&'a str>,
}

impl Wildcard<'_> {
    fn matches<'s>(&self, script: &'s str) -> Option<&'s str> {
        if self.omit.is_some_and(|o| script.contains(o)) {
            return None;
        }
        let rest = script.strip_prefix(self.before.as_str())?;
        rest.strip_suffix(self.after.as_str())
    }
}

/// `npm run watch-* --x` → the glob's parts; `None` without a `*`.
fn wildcard(line: &str) -> Option<Wildcard<'_>> {
    let runner = [
        "npm run ",
        "yarn run ",
        "pnpm run ",
        "bun run ",
        "node --run ",
        "deno task ",
    ]
    .into_iter()
    .find(|r| line.starts_with(r))?;
    let rest = &line[runner.len()..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (glob, args) = rest.split_at(end);
    // Arguments stop at `&&`-style chaining, as in concurrently.
    let args = args.split('&').next().unwrap_or("");
    let (omit, bare) = match (glob.find("(!"), glob.rfind(')')) {
        (Some(open), Some(close)) if close > open => (
            Some(&glob[open + 2..close]),
            format!("{}{}", &glob[..open], &glob[close + 1..]),
        ),
        _ => (None, glob.to_owned()),
    };
    let star = bare.find('*')?;
    Some(Wildcard {
        runner: runner.trim_end(),
        glob,
        args,
        before: bare[..star].to_owned(),
        after: bare[star + 1..].to_owned(),
        omit,
    })
}

/// The script names of a `package.json`, in file order.
fn script_names(text: &str) -> std::result::Result<Vec<String>, String> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }
    struct ScriptsIn;
    impl<'de> Visitor<'de> for ScriptsIn {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a package.json object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut scripts = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == "scripts" {
                    scripts = map.next_value_seed(KeysSeed)?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(scripts)
        }
    }
    struct KeysSeed;
    impl<'de> serde::de::DeserializeSeed<'de> for KeysSeed {
        type Value = Vec<String>;
        fn deserialize<D: serde::Deserializer<'de>>(
            self,
            d: D,
        ) -> std::result::Result<Self::Value, D::Error> {
            d.deserialize_map(Keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_map(ScriptsIn).map_err(|e| e.to_string())
}

/// Replaces `{N}`, `{@}` and `{*}` with shell-quoted arguments; `\{…}` stays literal.
fn expand_arguments(line: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('{') {
        let escaped = rest[..open].ends_with('\\');
        let close = rest[open..].find('}').map(|c| open + c);
        let Some(close) = close else { break };
        let key = &rest[open + 1..close];
        let value = match key {
            "@" => Some(
                args.iter()
                    .map(|a| sh_quote(a))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "*" => Some(sh_quote(&args.join(" "))),
            n => n
                .parse::<usize>()
                .ok()
                .filter(|&n| n >= 1)
                .map(|n| args.get(n - 1).map(|a| sh_quote(a)).unwrap_or_default()),
        };
        match value {
            Some(_) if escaped => {
                out.push_str(&rest[..open - 1]);
                out.push_str(&rest[open..=close]);
            }
            Some(v) => {
                out.push_str(&rest[..open]);
                out.push_str(&v);
            }
            None => out.push_str(&rest[..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Quotes a word for `/bin/sh` when it needs it.
fn sh_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r#"'"'"'"#))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKG: &str = r#"{
        "name": "app",
        "scripts": {
            "watch-js": "esbuild --watch",
            "lint:fix": "eslint --fix",
            "watch-css": "tailwindcss -w",
            "lint:js": "eslint",
            "watch-": "nothing",
            "lint:css": "stylelint"
        },
        "dependencies": {"watch-x": "1"}
    }"#;

    fn expand(cmds: &[&str], names: &[&str]) -> Vec<(String, String)> {
        let cmds: Vec<String> = cmds.iter().map(|s| (*s).to_owned()).collect();
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        expand_commands(&cmds, &names, Some(PKG), None)
            .unwrap()
            .into_iter()
            .map(|c| (c.name, c.line))
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn shortcuts_expand_and_are_named_after_their_script() {
        assert_eq!(
            expand(
                &["npm:start -- --port 3", "yarn:build", "pnpm:x", "echo hi"],
                &["", "", "px"]
            ),
            pairs(&[
                ("start", "npm run start -- --port 3"),
                ("build", "yarn run build"),
                ("px", "pnpm run x"),
                ("3", "echo hi"),
            ])
        );
    }

    #[test]
    fn wildcards_expand_in_file_order_named_after_the_match() {
        assert_eq!(
            expand(&["npm:watch-*", "npm:lint:*(!fix)"], &[]),
            pairs(&[
                ("js", "npm run watch-js"),
                ("css", "npm run watch-css"),
                // An empty match gets its index, as concurrently prints it.
                ("2", "npm run watch-"),
                ("js", "npm run lint:js"),
                ("css", "npm run lint:css"),
            ])
        );
        // A given name prefixes the match; arguments follow every expansion.
        assert_eq!(
            expand(&["npm run watch-c* --x"], &["w-"]),
            pairs(&[("w-ss", "npm run watch-css --x")])
        );
    }

    #[test]
    fn a_wildcard_matching_nothing_or_a_broken_package_json_is_an_error() {
        let err = expand_commands(&["npm:nope-*".into()], &[], Some(PKG), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("npm:nope-*") && err.contains("nope-*"),
            "{err}"
        );
        let err = expand_commands(&["npm:a*".into()], &[], Some("{\"scripts\": [}"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("package.json"), "{err}");
    }

    #[test]
    fn passthrough_arguments_are_quoted_for_the_shell() {
        let args = ["a b".to_owned(), "it's".to_owned(), "plain".to_owned()];
        assert_eq!(expand_arguments("x {1} {3} {4}", &args), "x 'a b' plain ");
        assert_eq!(
            expand_arguments("x {@}", &args),
            r#"x 'a b' 'it'"'"'s' plain"#
        );
        assert_eq!(
            expand_arguments("x {*}", &args),
            r#"x 'a b it'"'"'s plain'"#
        );
        assert_eq!(expand_arguments(r"x \{1} {y} {", &args), "x {1} {y} {");
    }

    proptest::proptest! {
        #[test]
        fn expansion_never_panics(cmd in "\\PC*", name in "\\PC*", arg in "\\PC*", pkg in "\\PC*") {
            let _ = expand_commands(&[cmd], &[name], Some(&pkg), Some(&[arg]));
        }
    }
}
