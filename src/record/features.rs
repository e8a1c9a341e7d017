//! What `record` gathers from this machine for perf.data's feature sections: who recorded
//! what, where, and the trace event formats perf script needs to decode tracepoint fields
//! (their encoders are in [`crate::data::write::features`]).
use std::fs;
use std::path::Path;

use crate::abi::feature;
use crate::data::write::features::{self, event_desc, feature_string, EventDesc};
use crate::sys::tracefs::read_file;

fn cpuinfo_field(name: &str) -> Option<String> {
    fs::read_to_string("/proc/cpuinfo")
        .ok()?
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
}

fn total_mem_kb() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// The features describing this machine and command line, perf's standard set.
pub fn system_features(cmdline: &[String], events: &[EventDesc]) -> Vec<(u32, Vec<u8>)> {
    let mut f = vec![
        (
            feature::HOSTNAME,
            feature_string(&crate::sys::topology::uname().nodename),
        ),
        (
            feature::OSRELEASE,
            feature_string(&crate::sys::topology::uname().release),
        ),
        (
            feature::VERSION,
            feature_string(&format!("rperf {}", env!("CARGO_PKG_VERSION"))),
        ),
        (
            feature::ARCH,
            feature_string(&crate::sys::topology::uname().machine),
        ),
    ];
    let online = crate::sys::topology::online_cpus()
        .map(|c| c.len())
        .unwrap_or(1) as u32;
    let avail = fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| crate::sys::topology::parse_cpu_list(&s))
        .map(|c| c.len() as u32)
        .unwrap_or(online);
    let mut nr = avail.to_le_bytes().to_vec();
    nr.extend_from_slice(&online.to_le_bytes());
    f.push((feature::NRCPUS, nr));
    if let Some(model) = cpuinfo_field("model name") {
        f.push((feature::CPUDESC, feature_string(&model)));
    }
    let cpuid = [
        cpuinfo_field("vendor_id"),
        cpuinfo_field("cpu family"),
        cpuinfo_field("model"),
        cpuinfo_field("stepping"),
    ];
    if cpuid.iter().all(Option::is_some) {
        let parts: Vec<String> = cpuid.into_iter().flatten().collect();
        f.push((feature::CPUID, feature_string(&parts.join(","))));
    }
    f.push((feature::TOTAL_MEM, total_mem_kb().to_le_bytes().to_vec()));
    let mut cl = (cmdline.len() as u32).to_le_bytes().to_vec();
    for a in cmdline {
        cl.extend_from_slice(&feature_string(a));
    }
    f.push((feature::CMDLINE, cl));
    f.push((feature::EVENT_DESC, event_desc(events)));
    f
}

/// HEADER_TRACING_DATA for the given (system, event) tracepoints, read from the tracefs
/// root: header_page, header_event and each event's format, grouped by system in the order
/// first named.
pub fn tracing_data(tracefs: &Path, tracepoints: &[(String, String)]) -> std::io::Result<Vec<u8>> {
    let events = tracefs.join("events");
    let header_page = read_file(&events.join("header_page"))?;
    let header_event = read_file(&events.join("header_event"))?;
    let mut systems: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for (sys, name) in tracepoints {
        let format = read_file(&events.join(sys).join(name).join("format"))?;
        match systems.iter_mut().find(|(s, _)| s == sys) {
            Some((_, formats)) => formats.push(format),
            None => systems.push((sys.clone(), vec![format])),
        }
    }
    Ok(features::tracing_data(
        crate::sys::ring::page_size() as u32,
        &header_page,
        &header_event,
        &systems,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::Attr;

    #[test]
    fn system_features_have_the_standard_set() {
        let attr = Attr::default();
        let f = system_features(
            &["rperf".into(), "record".into()],
            &[EventDesc {
                attr: &attr,
                name: "cpu-clock",
                ids: &[1, 2],
            }],
        );
        let bits: Vec<u32> = f.iter().map(|(b, _)| *b).collect();
        for want in [3, 4, 5, 6, 7, 10, 11, 12] {
            assert!(bits.contains(&want), "{want} in {bits:?}");
        }
        let desc = &f.iter().find(|(b, _)| *b == feature::EVENT_DESC).unwrap().1;
        assert_eq!(u32::from_le_bytes(desc[..4].try_into().unwrap()), 1);
        assert_eq!(desc.len(), 8 + 128 + 4 + 68 + 16);
    }
}
