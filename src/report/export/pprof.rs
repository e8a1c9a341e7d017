//! pprof's profile.proto, gzipped, through prost (feature `pprof`).
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};

use super::{is_clock, NO_SAMPLES};
use crate::report::folded::{walk, FoldOptions, SampleView};

/// The messages of pprof's profile.proto that rperf fills in (field numbers as in the
/// published schema).
mod proto {
    /// `perftools.profiles.Profile`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    /// `ValueType`: indices into the string table.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// `Sample`: locations leaf first, one value per sample type.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    /// `Label`: a string or numeric tag.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
        #[prost(int64, tag = "3")]
        pub num: i64,
    }

    /// `Mapping`: one per binary.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mapping {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub memory_start: u64,
        #[prost(uint64, tag = "3")]
        pub memory_limit: u64,
        #[prost(uint64, tag = "4")]
        pub file_offset: u64,
        #[prost(int64, tag = "5")]
        pub filename: i64,
        #[prost(int64, tag = "6")]
        pub build_id: i64,
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
    }

    /// `Location`: here one per (function, binary), already symbolized.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        #[prost(uint64, tag = "3")]
        pub address: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }

    /// `Line`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
    }

    /// `Function`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
    }
}

/// pprof's string table: index 0 is the empty string.
#[derive(Default)]
struct Strings {
    list: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.id("");
        s
    }

    fn id(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as i64;
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// pprof samples are aggregated by stack (location ids, leaf first), comm, pid and tid.
type SampleKey = (Vec<u64>, String, i32, i32);

/// A gzipped pprof profile: samples aggregated by (stack, thread) with two values, the
/// sample count and the summed period (CPU nanoseconds for cpu-clock/task-clock, event
/// counts otherwise), labelled with comm, pid and tid.
pub fn pprof(input: &Path, opts: &FoldOptions) -> Result<Vec<u8>> {
    let mut strings = Strings::new();
    let mut mappings: HashMap<String, u64> = HashMap::new();
    let mut functions: HashMap<(String, u64), u64> = HashMap::new();
    let mut out = proto::Profile::default();
    let mut samples: HashMap<SampleKey, (i64, i64)> = HashMap::new();
    let (mut first, mut last) = (u64::MAX, 0u64);
    let mut ids: Vec<u64> = Vec::with_capacity(64);
    // Samples whose leaf is in each mapping: pprof takes the first mapping for the main
    // binary, so the busiest real file goes first.
    let mut leaf_hits: HashMap<u64, u64> = HashMap::new();
    let event = walk(input, opts, |s: &SampleView| {
        first = first.min(s.time);
        last = last.max(s.time);
        ids.clear();
        for f in s.frames {
            let mapping = match mappings.get(&*f.dso) {
                Some(&m) => m,
                None => {
                    let id = out.mapping.len() as u64 + 1;
                    out.mapping.push(proto::Mapping {
                        id,
                        filename: strings.id(&f.dso),
                        has_functions: true,
                        ..Default::default()
                    });
                    mappings.insert(f.dso.to_string(), id);
                    id
                }
            };
            let key = (f.name.to_string(), mapping);
            let location = match functions.get(&key) {
                Some(&l) => l,
                None => {
                    // Function and location share ids: one location per function here.
                    let id = out.function.len() as u64 + 1;
                    let name = strings.id(&f.name);
                    out.function.push(proto::Function {
                        id,
                        name,
                        system_name: name,
                        filename: strings.id(&f.dso),
                    });
                    out.location.push(proto::Location {
                        id,
                        mapping_id: mapping,
                        address: 0,
                        line: vec![proto::Line {
                            function_id: id,
                            line: 0,
                        }],
                    });
                    functions.insert(key, id);
                    id
                }
            };
            if ids.is_empty() {
                *leaf_hits.entry(mapping).or_default() += 1;
            }
            ids.push(location);
        }
        let e = samples
            .entry((ids.clone(), s.comm.to_string(), s.pid, s.tid))
            .or_default();
        e.0 += 1;
        e.1 += s.period as i64;
    })?;
    if samples.is_empty() {
        bail!(NO_SAMPLES);
    }
    let (kind, unit) = if is_clock(&event) {
        ("cpu", "nanoseconds")
    } else {
        (event.as_str(), "count")
    };
    out.sample_type = vec![
        proto::ValueType {
            r#type: strings.id("samples"),
            unit: strings.id("count"),
        },
        proto::ValueType {
            r#type: strings.id(kind),
            unit: strings.id(unit),
        },
    ];
    out.period_type = Some(out.sample_type[1].clone());
    out.default_sample_type = out.sample_type[1].r#type;
    let (k_comm, k_pid, k_tid) = (strings.id("comm"), strings.id("pid"), strings.id("tid"));
    let mut sorted: Vec<_> = samples.into_iter().collect();
    sorted.sort();
    for ((locations, comm, pid, tid), (n, period)) in sorted {
        out.sample.push(proto::Sample {
            location_id: locations,
            value: vec![n, period],
            label: vec![
                proto::Label {
                    key: k_comm,
                    str: strings.id(&comm),
                    num: 0,
                },
                proto::Label {
                    key: k_pid,
                    str: 0,
                    num: pid as i64,
                },
                proto::Label {
                    key: k_tid,
                    str: 0,
                    num: tid as i64,
                },
            ],
        });
    }
    out.mapping.sort_by_key(|m| {
        let pseudo = strings.list[m.filename as usize].starts_with('[');
        (
            pseudo,
            std::cmp::Reverse(leaf_hits.get(&m.id).copied().unwrap_or(0)),
            m.id,
        )
    });
    out.duration_nanos = last.saturating_sub(first) as i64;
    out.comment = vec![strings.id(&format!(
        "rperf {} from {}",
        env!("CARGO_PKG_VERSION"),
        input.display()
    ))];
    out.string_table = strings.list;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&prost::Message::encode_to_vec(&out))?;
    Ok(gz.finish()?)
}
