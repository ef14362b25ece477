//! What each output line of a process starts with: `concurrently`'s prefix templates
//! (`{index}`, `{name}`, `{command}`, `{pid}`, `{time}`), its timestamp format, and
//! per-process colours (`red`, `bold.blue`, `#ff8800`, `auto`).
//!
//! A prefix is parsed once; only `{pid}` (it changes on restart) and `{time}` are filled
//! in per write.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// `concurrently`'s default timestamp format (`-t`).
pub const DEFAULT_TIMESTAMP_FORMAT: &str = "yyyy-MM-dd HH:mm:ss.SSS";

/// ANSI colours for prefixes, in order of assignment (`auto`); readable on dark and light
/// backgrounds, red left for errors.
const PALETTE: &[&str] = &["36", "35", "33", "32", "34", "96", "95", "93", "92", "94"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Pid,
    Time,
}

/// A parsed prefix for one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prefix {
    parts: Vec<Part>,
    /// SGR parameters (`1;31`), or none for no colour.
    color: Option<String>,
    /// Spaces after the prefix so that prefixes line up.
    pad: usize,
    time_format: String,
}

/// What a process contributes to its prefix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) index: usize,
    pub(crate) name: &'a str,
    pub(crate) command: &'a str,
}

/// Expands `{index}`, `{name}` and `{command}` at once and keeps `{pid}` and `{time}` for
/// later. The keywords `index`, `name`, `pid`, `time`, `command` and `none` stand for
/// `[{index}]` and so on, as in `concurrently`.
fn parse(template: &str, f: Fields<'_>) -> Vec<Part> {
    let template = match template {
        "none" => "",
        "index" => "[{index}]",
        "name" => "[{name}]",
        "pid" => "[{pid}]",
        "time" => "[{time}]",
        "command" => "[{command}]",
        other => other,
    };
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        lit.push_str(&rest[..open]);
        let after = &rest[open..];
        let field = ["{index}", "{name}", "{command}", "{pid}", "{time}"]
            .into_iter()
            .find(|k| after.starts_with(k));
        match field {
            Some("{index}") => lit.push_str(&f.index.to_string()),
            Some("{name}") => lit.push_str(f.name),
            Some("{command}") => lit.push_str(f.command),
            Some(k) => {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(if k == "{pid}" { Part::Pid } else { Part::Time });
            }
            None => lit.push('{'),
        }
        rest = &after[field.map_or(1, str::len)..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    parts
}

/// Turns a colour name into SGR parameters: `red`, `bgBlue`, `bold.green`, `#ff8800`,
/// `gray`; `auto` picks from the palette by index; `reset`/`none` is no colour.
pub(crate) fn color_code(spec: &str, index: usize) -> Result<Option<String>> {
    let mut codes = Vec::new();
    for word in spec.split('.') {
        let code = match word {
            "auto" => PALETTE[index % PALETTE.len()].to_owned(),
            "none" | "reset" => return Ok(None),
            "bold" => "1".into(),
            "dim" => "2".into(),
            "italic" => "3".into(),
            "underline" => "4".into(),
            "inverse" => "7".into(),
            "black" => "30".into(),
            "red" => "31".into(),
            "green" => "32".into(),
            "yellow" => "33".into(),
            "blue" => "34".into(),
            "magenta" => "35".into(),
            "cyan" => "36".into(),
            "white" => "37".into(),
            "gray" | "grey" | "blackBright" => "90".into(),
            "redBright" => "91".into(),
            "greenBright" => "92".into(),
            "yellowBright" => "93".into(),
            "blueBright" => "94".into(),
            "magentaBright" => "95".into(),
            "cyanBright" => "96".into(),
            "whiteBright" => "97".into(),
            "bgBlack" => "40".into(),
            "bgRed" => "41".into(),
            "bgGreen" => "42".into(),
            "bgYellow" => "43".into(),
            "bgBlue" => "44".into(),
            "bgMagenta" => "45".into(),
            "bgCyan" => "46".into(),
            "bgWhite" => "47".into(),
            hex if hex.starts_with('#') || hex.starts_with("bg#") => {
                let (bg, digits) = match hex.strip_prefix("bg#") {
                    Some(d) => (true, d),
                    None => (false, &hex[1..]),
                };
                let rgb = (digits.len() == 6)
                    .then(|| u32::from_str_radix(digits, 16).ok())
                    .flatten()
                    .ok_or_else(|| {
                        Error::config(format!(
                            "colour `{spec}`: `{hex}` is not a #rrggbb hex colour"
                        ))
                    })?;
                format!(
                    "{};2;{};{};{}",
                    if bg { 48 } else { 38 },
                    rgb >> 16,
                    (rgb >> 8) & 0xff,
                    rgb & 0xff
                )
            }
            other => {
                return Err(Error::config(format!(
                    "unknown colour `{other}` in `{spec}` (use a name such as red or bold.blue, #rrggbb, or auto)"
                )));
            }
        };
        codes.push(code);
    }
    Ok(Some(codes.join(";")))
}

impl Prefix {
    /// Builds the prefixes of a set of processes. `template` is `None` for the default
    /// (`[name]`, padded to the longest name); `colors` may be shorter than the list, the
    /// last entry then applies to the rest, as in `concurrently` (default `auto`).
    pub(crate) fn build_all(
        fields: &[Fields<'_>],
        template: Option<&str>,
        time_format: Option<&str>,
        colors: &[String],
        color: bool,
    ) -> Result<Vec<Self>> {
        let mut problems = Vec::new();
        let parsed: Vec<Vec<Part>> = fields
            .iter()
            .map(|f| parse(template.unwrap_or("name"), *f))
            .collect();
        let widths: Vec<usize> = parsed
            .iter()
            .map(|p| match p.as_slice() {
                [Part::Lit(s)] => s.chars().count(),
                _ => 0,
            })
            .collect();
        let width = widths.iter().copied().max().unwrap_or(0);
        let mut out = Vec::new();
        for (i, parts) in parsed.into_iter().enumerate() {
            let spec = colors
                .get(i)
                .or_else(|| colors.last())
                .map_or("auto", String::as_str);
            let code = match color_code(spec, i) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(crate::error::error_chain(&e));
                    None
                }
            };
            out.push(Self {
                // Padding only for the default: a custom template is printed as written.
                pad: if template.is_none() {
                    width - widths[i]
                } else {
                    0
                },
                parts,
                color: code.filter(|_| color),
                time_format: time_format.unwrap_or(DEFAULT_TIMESTAMP_FORMAT).to_owned(),
            });
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(Error::Config { problems })
        }
    }

    /// The bytes to print before a line of the process, now.
    pub(crate) fn render(&self, pid: u32) -> Vec<u8> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => text.push_str(s),
                Part::Pid => text.push_str(&pid.to_string()),
                Part::Time => text.push_str(&format_time(SystemTime::now(), &self.time_format)),
            }
        }
        if text.is_empty() {
            return Vec::new();
        }
        let mut out = match &self.color {
            Some(code) => format!("\x1b[{code}m{text}\x1b[0m"),
            None => text,
        };
        out.push_str(&" ".repeat(self.pad));
        out.push(' ');
        out.into_bytes()
    }
}

/// Formats `t` (UTC) with the date-fns tokens `concurrently` documents: `yyyy`, `yy`,
/// `MM`, `dd`, `HH`, `mm`, `ss`, `SSS`; anything else is copied.
pub(crate) fn format_time(t: SystemTime, format: &str) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, mo, day) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
    let sod = secs % 86_400;
    let fields: [(&str, String); 8] = [
        ("yyyy", format!("{y:04}")),
        ("SSS", format!("{:03}", d.subsec_millis())),
        ("yy", format!("{:02}", y.rem_euclid(100))),
        ("MM", format!("{mo:02}")),
        ("dd", format!("{day:02}")),
        ("HH", format!("{:02}", sod / 3600)),
        ("mm", format!("{:02}", sod / 60 % 60)),
        ("ss", format!("{:02}", sod % 60)),
    ];
    let mut out = String::new();
    let mut rest = format;
    'outer: while !rest.is_empty() {
        for (token, value) in &fields {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(value);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn f(index: usize, name: &str) -> Fields<'_> {
        Fields {
            index,
            name,
            command: "npm start",
        }
    }

    #[test]
    fn default_prefixes_are_padded_names() {
        let p = Prefix::build_all(&[f(0, "css"), f(1, "server")], None, None, &[], false).unwrap();
        assert_eq!(p[0].render(1), b"[css]    ");
        assert_eq!(p[1].render(1), b"[server] ");
    }

    #[test]
    fn templates_fill_every_field() {
        let p = Prefix::build_all(
            &[f(2, "web")],
            Some("{index}|{name}|{command}|{pid}|{nope}"),
            None,
            &[],
            false,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(p[0].render(42)).unwrap(),
            "2|web|npm start|42|{nope} "
        );
        let none = Prefix::build_all(&[f(0, "a")], Some("none"), None, &[], false).unwrap();
        assert!(none[0].render(1).is_empty());
        let pid = Prefix::build_all(&[f(0, "a")], Some("pid"), None, &[], false).unwrap();
        assert_eq!(pid[0].render(7), b"[7] ");
    }

    #[test]
    fn colours_by_name_hex_modifier_and_last_applies_to_the_rest() {
        let colors = vec!["bold.red".to_owned(), "#ff8800".to_owned()];
        let p = Prefix::build_all(
            &[f(0, "a"), f(1, "b"), f(2, "c")],
            None,
            None,
            &colors,
            true,
        )
        .unwrap();
        assert_eq!(p[0].render(0), b"\x1b[1;31m[a]\x1b[0m ");
        assert_eq!(p[1].render(0), b"\x1b[38;2;255;136;0m[b]\x1b[0m ");
        assert_eq!(p[2].render(0), b"\x1b[38;2;255;136;0m[c]\x1b[0m ");
        let err = Prefix::build_all(&[f(0, "a")], None, None, &["purplish".into()], true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("purplish"), "{err}");
        assert_eq!(color_code("auto", 0).unwrap().as_deref(), Some("36"));
    }

    #[test]
    fn timestamps_use_date_fns_tokens() {
        // 2021-03-04 05:06:07.089 UTC
        let t = UNIX_EPOCH + Duration::from_millis(1_614_834_367_089);
        assert_eq!(
            format_time(t, DEFAULT_TIMESTAMP_FORMAT),
            "2021-03-04 05:06:07.089"
        );
        assert_eq!(format_time(t, "HH:mm yy"), "05:06 21");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(template in "\\PC*", color in "\\PC*") {
            let _ = Prefix::build_all(&[f(0, "a")], Some(&template), Some(&template), &[color], true)
                .map(|p| p[0].render(1));
        }
    }
}
