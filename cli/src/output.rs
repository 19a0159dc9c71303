//! Where records go: NDJSON (each record's text as the server wrote it),
//! CSV or a JSON array, to a file or stdout, counting bytes and records so
//! that a resumed pull continues the file at the last checkpoint.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::de::{MapAccess, Visitor};
use serde::Deserializer;
use serde_json::value::RawValue;

use crate::fail::{Fail, Result};

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One record per line, as the server wrote it.
    Ndjson,
    /// A header row and one row per record; nested values as JSON text.
    Csv,
    /// One JSON array of the records.
    Json,
}

impl Format {
    /// Its name, as `--format` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// The output sink with its counts.
pub struct Output {
    out: BufWriter<Box<dyn Write + Send>>,
    /// The output file, to make it durable ([`Output::sync`]).
    file: Option<File>,
    path: Option<PathBuf>,
    format: Format,
    /// Bytes written (the file's length once flushed).
    pub bytes: u64,
    /// Records written.
    pub records: u64,
    /// CSV columns (inferred from the first records when not given).
    pub columns: Option<Vec<String>>,
}

impl Output {
    /// Opens `path` (stdout when `None`); `resume` continues a file of
    /// `bytes` and `records` (the file is cut to `bytes` first).
    pub fn open(
        path: Option<&Path>,
        format: Format,
        columns: Option<Vec<String>>,
        resume: Option<(u64, u64)>,
    ) -> Result<Output> {
        let mut file = None;
        let (sink, bytes, records): (Box<dyn Write + Send>, u64, u64) = match path {
            None => (Box::new(io::stdout()), 0, 0),
            Some(p) => match resume {
                None => {
                    let f = File::create(p).map_err(|e| Fail::io("cannot create", p, e))?;
                    file = f.try_clone().ok();
                    (Box::new(f), 0, 0)
                }
                Some((bytes, records)) => {
                    let mut f = OpenOptions::new().write(true).open(p).map_err(|e| {
                        if e.kind() == io::ErrorKind::NotFound {
                            Fail::usage(format!(
                                "the output {} that the state file continues is gone: \
                                 remove the state file to start over",
                                p.display()
                            ))
                        } else {
                            Fail::io("cannot open the output to resume it,", p, e)
                        }
                    })?;
                    let len = f
                        .metadata()
                        .map_err(|e| Fail::io("cannot read", p, e))?
                        .len();
                    if len < bytes {
                        return Err(Fail::usage(format!(
                            "the output {} holds {len} bytes, fewer than the {bytes} the state file \
                             recorded: it was changed since; remove the state file to start over",
                            p.display()
                        )));
                    }
                    f.set_len(bytes)
                        .map_err(|e| Fail::io("cannot truncate", p, e))?;
                    f.seek(SeekFrom::Start(bytes))
                        .map_err(|e| Fail::io("cannot seek", p, e))?;
                    file = f.try_clone().ok();
                    (Box::new(f), bytes, records)
                }
            },
        };
        Ok(Output {
            file,
            out: BufWriter::with_capacity(1 << 16, sink),
            path: path.map(Path::to_path_buf),
            format,
            bytes,
            records,
            columns,
        })
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.bytes += b.len() as u64;
        let r = self.out.write_all(b);
        r.map_err(|e| self.fail(e))
    }

    fn fail(&self, e: io::Error) -> Fail {
        match &self.path {
            Some(p) => Fail::io("cannot write", p, e),
            None => Fail::failed(format!("cannot write to stdout: {e}")),
        }
    }

    /// Writes the records of one page (their JSON texts). CSV columns not
    /// given are inferred from this first page.
    pub fn page(&mut self, records: &pagewise::core::Records) -> Result<()> {
        if self.format == Format::Csv && self.columns.is_none() {
            let mut cols: Vec<String> = Vec::new();
            for r in records.iter().take(1000) {
                for (k, _) in fields(r) {
                    if !cols.contains(&k) {
                        cols.push(k);
                    }
                }
            }
            if records.is_empty() {
                return Ok(()); // nothing to infer from yet: an empty page
            }
            if cols.is_empty() {
                // Writing nothing would drop the page's records unseen.
                return Err(Fail::usage(
                    "--format csv: the first records are not JSON objects with members, \
                     so no columns can be inferred: give --columns, or use --format ndjson or json"
                        .into(),
                ));
            }
            self.columns = Some(cols);
        }
        if self.format == Format::Csv && self.records == 0 && self.bytes == 0 {
            let header: Vec<String> = self.columns.clone().unwrap_or_default();
            let line = csv_row(header.iter().map(|s| Some(s.as_str().into())));
            self.put(line.as_bytes())?;
        }
        for r in records.iter() {
            match self.format {
                Format::Ndjson => {
                    // Whitespace is the only place a newline can sit in JSON
                    // text: a pretty-printed record becomes one line.
                    if r.iter().any(|&b| b == b'\n' || b == b'\r') {
                        let line: Vec<u8> = r
                            .iter()
                            .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
                            .collect();
                        self.put(&line)?;
                    } else {
                        self.put(r)?;
                    }
                    self.put(b"\n")?;
                }
                Format::Json => {
                    self.put(if self.records == 0 { b"[\n" } else { b",\n" })?;
                    self.put(r)?;
                }
                Format::Csv => {
                    let map = fields(r);
                    let cols = self.columns.as_deref().unwrap_or_default();
                    let line = csv_row(
                        cols.iter()
                            .map(|c| map.iter().find(|(k, _)| k == c).map(|(_, v)| cell(v))),
                    );
                    self.put(line.as_bytes())?;
                }
            }
            self.records += 1;
        }
        Ok(())
    }

    /// Writes one line of text (NDJSON of results, a document).
    pub fn line(&mut self, text: &str) -> Result<()> {
        self.put(text.as_bytes())?;
        self.put(b"\n")?;
        self.records += 1;
        Ok(())
    }

    /// Hands what was written to the operating system, so that a checkpoint
    /// written after it never points past the file's end.
    pub fn flush(&mut self) -> Result<()> {
        let r = self.out.flush();
        r.map_err(|e| self.fail(e))
    }

    /// Flushes and makes a file output durable (on disk, not only handed
    /// to the operating system): before a state file says the pull finished
    /// and stores the watermark the next delta pull starts from, so that a
    /// crash or power loss cannot leave a watermark past records never written.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        match &self.file {
            Some(f) => f.sync_all().map_err(|e| self.fail(e)),
            None => Ok(()),
        }
    }

    /// Ends the output: the JSON array's closing bracket.
    pub fn finish(&mut self) -> Result<()> {
        if self.format == Format::Json {
            let end: &[u8] = if self.records == 0 { b"[]\n" } else { b"\n]\n" };
            self.put(end)?;
        }
        self.flush()
    }
}

/// The top-level members of a record, in order, each as its JSON text; none
/// for a record that is not an object.
fn fields(record: &[u8]) -> Vec<(String, Box<RawValue>)> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, Box<RawValue>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut m: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = m.next_entry::<String, Box<RawValue>>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(record);
    de.deserialize_map(V).unwrap_or_default()
}

/// A CSV cell from a member's JSON text: a string's text, nothing for
/// `null`, any other value as its JSON text (numbers as written).
fn cell(v: &RawValue) -> std::borrow::Cow<'_, str> {
    let t = v.get();
    if t == "null" {
        "".into()
    } else if t.starts_with('"') {
        serde_json::from_str::<String>(t).map_or(t.into(), Into::into)
    } else {
        t.into()
    }
}

/// One CSV row (RFC 4180: quoted when needed, quotes doubled, CRLF-free
/// `\n` line end).
fn csv_row<'a>(cells: impl Iterator<Item = Option<std::borrow::Cow<'a, str>>>) -> String {
    let mut line = String::new();
    for (i, c) in cells.enumerate() {
        if i > 0 {
            line.push(',');
        }
        let c = c.unwrap_or_default();
        if c.contains([',', '"', '\n', '\r']) || c.starts_with(' ') || c.ends_with(' ') {
            line.push('"');
            line.push_str(&c.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&c);
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        let f =
            fields(br#"{"a": "x,y", "b": null, "c": {"d": [1, 2]}, "e": 1.50, "f": "say \"hi\""}"#);
        let row = csv_row(f.iter().map(|(_, v)| Some(cell(v))));
        assert_eq!(
            row,
            "\"x,y\",,\"{\"\"d\"\": [1, 2]}\",1.50,\"say \"\"hi\"\"\"\n"
        );
        assert!(fields(b"[1]").is_empty());
    }

    #[test]
    fn csv_refuses_records_it_cannot_make_columns_of() {
        let dir = std::env::temp_dir().join(format!("pagewise-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("out.csv");
        let mut out = Output::open(Some(&p), Format::Csv, None, None).unwrap();
        // An empty page: nothing to infer from yet, nothing lost.
        out.page(&pagewise::core::Records::from_json(Vec::<&str>::new()))
            .unwrap();
        // Records that are not objects: an error, not rows left out unseen.
        let Err(e) = out.page(&pagewise::core::Records::from_json(["1", "\"two\""])) else {
            panic!("no columns to write the records in: an error");
        };
        assert!(e.message.contains("--columns"), "{}", e.message);
        assert_eq!(out.records, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
