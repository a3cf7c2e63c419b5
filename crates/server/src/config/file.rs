//! Reading `clawvault.toml` so that every mistake in it is reported at once: each unknown key,
//! each value of the wrong type, by key and line, with the keys the file does take.

use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Visitor};

use super::FileConfig;

/// Keys the struct reads only to refuse them with advice of their own (`database_url`): they
/// are not offered in the list of keys the file takes.
const REFUSED_KEYS: &[&str] = &["database_url"];

/// The file's valid settings; every problem found is pushed onto `problems`.
pub(super) fn read(path: &Path, problems: &mut Vec<String>) -> FileConfig {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("config file {shown}: {e}"));
            return FileConfig::default();
        }
    };
    // A syntax error leaves nothing to read past it: that one is reported alone.
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let at = e.span().map(|s| format!(" (line {})", line_of(&text, s.start))).unwrap_or_default();
            problems.push(format!("config file {shown}{at}: {}", e.message().trim()));
            return FileConfig::default();
        }
    };
    let known = field_names::<FileConfig>();
    let offered: Vec<&str> = known.iter().copied().filter(|k| !REFUSED_KEYS.contains(k)).collect();
    let mut valid = toml::Table::new();
    let mut listed = false;
    // In the order of the file, as it is read.
    let mut entries: Vec<(Option<usize>, String, toml::Value)> =
        table.into_iter().map(|(k, v)| (key_line(&text, &k), k, v)).collect();
    entries.sort_by_key(|(line, _, _)| line.unwrap_or(usize::MAX));
    for (line, key, value) in entries {
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        if !known.contains(&key.as_str()) {
            let keys = if listed { String::new() } else { format!(": the file takes {}", offered.join(", ")) };
            listed = true;
            problems.push(format!("config file {shown}{at}: unknown key `{key}`{keys}"));
            continue;
        }
        let one = toml::Table::from_iter([(key.clone(), value.clone())]);
        match FileConfig::deserialize(toml::Value::Table(one)) {
            Ok(_) => {
                valid.insert(key, value);
            }
            Err(e) => problems.push(format!("config file {shown}{at}: `{key}`: {}", e.message().trim())),
        }
    }
    FileConfig::deserialize(toml::Value::Table(valid)).unwrap_or_default()
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

/// The line where `key` is set at the top level, if it is written plainly.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')))
        .map(|i| i + 1)
}

/// The field names a struct's `Deserialize` expects, asked of the derive itself so the list
/// cannot drift from the struct.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut names));
    names
}

struct FieldProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs are probed"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("probed"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_mistakes_are_four_problems_and_the_key_list_is_only_what_the_file_takes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clawvault.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:8420\"\nlisen = \"x\"\ntoken_ttl_seconds = \"soon\"\nlog_format = \"xml\"\n\
             insecure_http = \"yes\"\nlog = \"debug\"\n",
        )
        .unwrap();
        let mut problems = Vec::new();
        let file = read(&path, &mut problems);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("(line 2): unknown key `lisen`"), "{}", problems[0]);
        assert!(problems[0].contains("the file takes data_dir, storage"), "{}", problems[0]);
        let offered = problems[0].split("the file takes ").nth(1).unwrap();
        assert!(!offered.split(", ").any(|k| k == "database_url"), "a refused key is not offered: {offered}");
        let rest = problems[1..].join("\n");
        for needle in ["(line 3): `token_ttl_seconds`", "(line 4): `log_format`", "(line 5): `insecure_http`"] {
            assert!(rest.contains(needle), "{needle}: {rest}");
        }
        assert_eq!(file.log.as_deref(), Some("debug"), "the valid keys are kept");
        assert_eq!(file.listen.as_deref(), Some("127.0.0.1:8420"));
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clawvault.toml");
        std::fs::write(&path, "log = \"info\"\nlisten = [\n").unwrap();
        let mut problems = Vec::new();
        read(&path, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("line 2") || problems[0].contains("line 3"), "{}", problems[0]);
    }
}
