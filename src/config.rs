//! perf's configuration files, read as perf 6.1 reads them: `$PERF_CONFIG` alone when set,
//! else `/etc/perfconfig` then `~/.perfconfig` (later files win; `PERF_CONFIG_NOSYSTEM` and
//! `PERF_CONFIG_NOGLOBAL` skip one). The format is git-config's: `[section]` or
//! `[section "sub"]` headers, `key = value` lines, `#`/`;` comments, double-quoted values.
//! Settings apply as defaults; flags on the command line always win.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Every `section.key = value` read, in file order (a later one overrides an earlier one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// (`section.key` lower-cased, or `section.sub.key` with the subsection as written,
    /// value).
    pub entries: Vec<(String, String)>,
}

impl Config {
    /// Reads the files perf would read; a file that is not there or not readable (another
    /// user's `$HOME` after `setpriv`/`su`) is skipped, one that belongs to someone other
    /// than the user or root is ignored with perf's warning (its settings could be planted),
    /// one that cannot be parsed is an error naming it and its line.
    pub fn load() -> Result<Config> {
        use std::os::unix::fs::MetadataExt;
        let mut c = Config::default();
        for f in files() {
            let Ok(meta) = std::fs::metadata(&f) else {
                continue;
            };
            if !crate::sys::ids::trusted_owner(meta.uid()) {
                eprintln!(
                    "File {} not owned by current user or root, ignoring it.",
                    f.display()
                );
                continue;
            }
            match rperf_symbols::file::read_regular_to_string(&f) {
                Ok(text) => c.entries.extend(parse(&text, &f)?),
                Err(rperf_symbols::Error::Io { source, .. })
                    if matches!(
                        source.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                    ) => {}
                Err(e) => bail!("cannot read config file {}: {e}", f.display()),
            }
        }
        Ok(c)
    }

    /// The value of `key` (`section.name`), the last one set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean setting, read as git and perf read them.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "" => Ok(Some(true)),
            "false" | "no" | "off" | "0" => Ok(Some(false)),
            _ => bail!("config {key} = {v:?}: expected true or false"),
        }
    }
}

/// The files perf reads, in order.
pub fn files() -> Vec<PathBuf> {
    if let Some(only) = std::env::var_os("PERF_CONFIG") {
        return vec![PathBuf::from(only)];
    }
    let set = |k: &str| {
        std::env::var(k)
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
    };
    let mut out = Vec::new();
    if !set("PERF_CONFIG_NOSYSTEM") {
        out.push(PathBuf::from("/etc/perfconfig"));
    }
    if !set("PERF_CONFIG_NOGLOBAL") {
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            out.push(PathBuf::from(home).join(".perfconfig"));
        }
    }
    out
}

/// Parses one file's text.
pub fn parse(text: &str, file: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut section = String::new();
    for (n, raw) in text.lines().enumerate() {
        let bad = |why: &str| {
            anyhow::anyhow!(
                "bad config file line {} in {}: {why}",
                n + 1,
                file.display()
            )
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((head, tail)) = rest.split_once(']') else {
                return Err(bad("a section header needs its closing ]"));
            };
            let tail = tail.trim();
            if !(tail.is_empty() || tail.starts_with('#') || tail.starts_with(';')) {
                return Err(bad("text after the section header"));
            }
            section = match head.trim().split_once(char::is_whitespace) {
                Some((name, sub)) => {
                    let sub = sub.trim();
                    let sub = sub
                        .strip_prefix('"')
                        .and_then(|s| s.strip_suffix('"'))
                        .ok_or_else(|| bad("a subsection name must be quoted"))?;
                    format!("{}.{sub}", name.to_ascii_lowercase())
                }
                None => head.trim().to_ascii_lowercase(),
            };
            if section.is_empty() {
                return Err(bad("empty section name"));
            }
            continue;
        }
        if section.is_empty() {
            return Err(bad("a setting before any [section]"));
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (
                k.trim(),
                value(v.trim()).ok_or_else(|| bad("unterminated quote"))?,
            ),
            // A bare key is a true boolean.
            None => (line, String::new()),
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad("a key is letters, digits, - and _"));
        }
        out.push((format!("{section}.{}", key.to_ascii_lowercase()), value));
    }
    Ok(out)
}

/// A value: comments cut outside quotes, quotes removed, `\"`, `\\`, `\n`, `\t` unescaped,
/// whitespace kept only inside quotes at the end.
fn value(v: &str) -> Option<String> {
    let mut out = String::new();
    let mut keep = 0;
    let mut quoted = false;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '#' | ';' if !quoted => break,
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                o => o,
            }),
            c if c.is_whitespace() && !quoted => {
                out.push(c);
                continue;
            }
            c => out.push(c),
        }
        keep = out.len();
    }
    if quoted {
        return None;
    }
    out.truncate(keep);
    Some(out)
}

/// `rperf config [-l] [KEY...]`: perf config's listing (`key=value`) or the values asked.
pub fn run(list: bool, keys: &[String]) -> Result<std::process::ExitCode> {
    let c = Config::load()?;
    let mut text = String::new();
    if list || keys.is_empty() {
        for (k, v) in &c.entries {
            text.push_str(&format!("{k}={v}\n"));
        }
    }
    for k in keys {
        if let Some(v) = c.get(&k.to_ascii_lowercase()) {
            text.push_str(&format!("{k}={v}\n"));
        }
    }
    crate::output::print(text.as_bytes()).context("rperf config")?;
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_git_style_sections_keys_and_values() {
        let text =
            "# perf settings\n[report]\n\tchildren = false ; self only\n  sort_order = dso,sym\n\
                    [call-graph]\nrecord-mode = dwarf\n[Record]\nbuild-id = \"cache\"  # quoted\n\
                    [buildid \"x\"]\ndir = \"/a b#c\"\n[report]\nchildren\n";
        let e = parse(text, Path::new("t")).unwrap();
        let c = Config { entries: e };
        assert_eq!(c.get("report.sort_order"), Some("dso,sym"));
        assert_eq!(c.get("call-graph.record-mode"), Some("dwarf"));
        assert_eq!(c.get("record.build-id"), Some("cache"));
        assert_eq!(c.get("buildid.x.dir"), Some("/a b#c"));
        // The later bare `children` overrides the earlier false.
        assert_eq!(c.bool("report.children").unwrap(), Some(true));
        assert_eq!(c.entries[0], ("report.children".into(), "false".into()));
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        for (text, why) in [
            ("key = 1\n", "before any [section]"),
            ("[report\n", "closing ]"),
            ("[a]\nk = \"open\n", "unterminated"),
            ("[a]\nbad key = 1\n", "letters"),
        ] {
            let e = parse(text, Path::new("/x/perfconfig"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("/x/perfconfig") && e.contains("line") && e.contains(why),
                "{e}"
            );
        }
        let c = Config {
            entries: vec![("report.children".into(), "maybe".into())],
        };
        assert!(c.bool("report.children").is_err());
    }
}
