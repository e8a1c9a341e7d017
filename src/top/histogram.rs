//! The histogram: each sample's frames symbolized (cached per binary and address), added
//! to its entry and call tree; older intervals decayed; the event shown switched; a row's
//! function annotated with its instructions' samples.
use super::*;

impl Top {
    pub(super) fn intern(&mut self, level: char, name: String) -> u32 {
        let k = SymName { level, name };
        if let Some(&id) = self.sym_ids.get(&k) {
            return id;
        }
        let id = self.syms.len() as u32;
        self.syms.push(k.clone());
        self.sym_ids.insert(k, id);
        id
    }

    /// (dso, symbol, map-relative address) of a frame, looked up once per binary and
    /// address.
    pub(super) fn resolve(&mut self, pid: i32, f: Frame) -> (u32, u32, u64) {
        let level = match f.mode {
            Mode::Kernel => 'k',
            Mode::User => '.',
            Mode::Other => 'H',
        };
        let loc = self.session.resolve(pid, f.addr, f.mode);
        let ck = match loc {
            Some(l) => (l.dso, l.rel),
            None => (NO_DSO, f.addr),
        };
        if let Some(&(d, sym)) = self.cache.get(&ck) {
            return (d, sym, ck.1);
        }
        let name = match loc {
            Some(l) => match self.symbolizer.symbol(&self.session, l) {
                Some(s) => s.name,
                None => format!("0x{:016x}", l.rel),
            },
            None => format!("0x{:016x}", f.addr),
        };
        let v = (ck.0, self.intern(level, name));
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(ck, v);
        (v.0, v.1, ck.1)
    }

    pub(super) fn dso_name(&self, dso: u32) -> &str {
        match self.session.dsos().get(dso as usize) {
            None => "[unknown]",
            Some(d) if d.path == "[kernel.kallsyms]" => "[kernel]",
            Some(d) => d.short_name(),
        }
    }

    pub(super) fn sample(&mut self, s: &Sample, chain: &[u64], exact: bool) {
        self.samples += 1;
        if let Some(n) = self.samples_by.get_mut(s.event) {
            *n += 1;
        }
        self.interval.samples += 1;
        if s.mode == Mode::Kernel {
            self.interval.kernel += 1;
        }
        if exact {
            self.interval.exact += 1;
        }
        if (self.view.hide_kernel && s.mode == Mode::Kernel)
            || (self.view.hide_user && s.mode != Mode::Kernel)
        {
            return;
        }
        let with_chain = s.with_parts(
            (self.view.graph && !chain.is_empty()).then_some(chain),
            None,
            None,
        );
        let frames = if with_chain.callchain.is_some() {
            callchain::frames(&with_chain, MAX_STACK)
        } else {
            vec![Frame {
                addr: s.ip,
                mode: s.mode,
                unwound: false,
            }]
        };
        if frames.is_empty() {
            return;
        }
        // The command filter before any symbol lookup: binaries of other commands are
        // never loaded.
        let comm = self.session.comm_id(s.tid);
        if let Some(c) = &self.view.comms {
            if !c.iter().any(|c| c == self.session.comm_name(comm)) {
                return;
            }
        }
        let full: Vec<(u32, u32, u64)> = frames.iter().map(|&f| self.resolve(s.pid, f)).collect();
        let resolved: Vec<(u32, u32)> = full.iter().map(|r| (r.0, r.1)).collect();
        let (dso, sym) = resolved[0];
        if s.mode == Mode::Kernel && is_idle(&self.syms[sym as usize].name) {
            return;
        }
        if let Some(d) = &self.view.dsos {
            let name = self.dso_name(dso);
            let full = self
                .session
                .dsos()
                .get(dso as usize)
                .map(|d| d.path.as_str());
            if !d.iter().any(|d| d == name || Some(d.as_str()) == full) {
                return;
            }
        }
        if let Some(f) = &self.view.syms {
            if !f.iter().any(|f| *f == self.syms[sym as usize].name) {
                return;
            }
        }
        let w = s.period;
        if self.track_addresses && dso != NO_DSO {
            let h = self
                .addr_hits
                .entry((s.event as u32, dso, full[0].2))
                .or_default();
            h.0 += 1;
            h.1 += w;
        }
        self.cur_event = s.event as u32;
        let syms: Vec<u32> = resolved.iter().map(|r| r.1).collect();
        let cpu = s.cpu.unwrap_or(0);
        self.add(comm, s.pid, resolved[0], cpu, w, true, &syms);
        if self.view.graph && self.view.children {
            // Every caller gets the sample's weight once as children time.
            let mut seen = vec![sym];
            for (i, &(d, f)) in resolved.iter().enumerate().skip(1) {
                if seen.contains(&f) {
                    continue;
                }
                seen.push(f);
                let mut path: Vec<u32> = syms[..=i].to_vec();
                path.reverse();
                self.add(comm, s.pid, (d, f), cpu, w, false, &path);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &mut self,
        comm: u32,
        pid: i32,
        (dso, sym): (u32, u32),
        cpu: u32,
        w: u64,
        own: bool,
        path: &[u32],
    ) {
        let mut key = Key {
            event: self.cur_event,
            ..Key::default()
        };
        for k in &self.view.sort {
            match k {
                SortKey::Comm => key.comm = comm,
                SortKey::Pid => key.pid = pid,
                SortKey::Dso => key.dso = dso,
                SortKey::Sym => key.sym = sym,
                SortKey::Cpu => key.cpu = cpu,
                // parse_sort never gives these.
                SortKey::Srcline
                | SortKey::Parent
                | SortKey::Trace
                | SortKey::Cgroup
                | SortKey::CgroupId => {}
            }
        }
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.entries.push(Entry {
                    key,
                    comm,
                    pid,
                    dso,
                    sym,
                    cpu,
                    ..Entry::default()
                });
                self.index.insert(key, self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[i];
        e.children += w;
        if own {
            e.own += w;
            if self.view.graph && !self.view.children {
                e.tree.add(path, w);
            }
        }
        if self.view.graph && self.view.children {
            // Children mode: the callees below this entry, from it down to the sample.
            e.tree.add(if own { &path[..1] } else { path }, w);
        }
    }

    /// Ends a refresh interval: perf's decay (7/8 of every weight, empty entries dropped)
    /// or, with `zero`, a fresh start.
    pub fn end_interval(&mut self, zero: bool) {
        self.interval = Interval::default();
        if zero {
            self.entries.clear();
        } else {
            self.entries.retain_mut(|e| {
                e.own = e.own * 7 / 8;
                e.children = e.children * 7 / 8;
                e.tree.decay();
                e.own > 0 || e.children > 0
            });
        }
        self.index = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.key, i))
            .collect();
        if zero {
            self.addr_hits.clear();
        } else {
            self.addr_hits.retain(|_, (n, w)| {
                *n = *n * 7 / 8;
                *w = *w * 7 / 8;
                *n > 0
            });
        }
    }

    /// Shows the next event's histogram (`back`: the previous one); false with one event.
    pub fn switch_event(&mut self, back: bool) -> bool {
        let n = self.events.len();
        if n < 2 {
            return false;
        }
        self.active = if back {
            (self.active + n - 1) % n
        } else {
            (self.active + 1) % n
        };
        self.event = self.events[self.active].clone();
        true
    }

    /// The annotation of the function of the entry the table row `key` stands for, as
    /// perf annotate lays it out, with the samples of its instructions so far.
    pub fn annotate(&mut self, key: &str) -> std::result::Result<String, String> {
        if !self.view.sort.contains(&SortKey::Sym) {
            return Err("annotation needs sym among the --sort keys".into());
        }
        let e = self
            .shown()
            .find(|e| format!("{:?}", e.key) == key)
            .ok_or("that entry is gone: pick it again")?;
        let (dso, sym, event) = (e.dso, e.sym, e.key.event);
        let name = self.syms[sym as usize].name.clone();
        let Some(d) = self.session.dsos().get(dso as usize) else {
            return Err(format!("{name} lies in no known binary"));
        };
        let (path, kernel) = (d.path.clone(), d.kernel);
        // The function's own addresses with their samples, as offsets from its start.
        let mut start: Option<u64> = None;
        let mut hits: Vec<(u64, u64, u64)> = Vec::new();
        let addrs: Vec<(u64, (u64, u64))> = self
            .addr_hits
            .iter()
            .filter(|((ev, d, _), _)| *ev == event && *d == dso)
            .map(|((_, _, rel), w)| (*rel, *w))
            .collect();
        for (rel, (n, w)) in addrs {
            if self.cache.get(&(dso, rel)).is_some_and(|&(_, s)| s != sym) {
                continue;
            }
            let loc = crate::session::Location { dso, rel };
            let Some(found) = self.symbolizer.symbol(&self.session, loc) else {
                continue;
            };
            if found.name != name {
                continue;
            }
            let at = if kernel {
                rel
            } else {
                match self.symbolizer.vaddr(&self.session, loc) {
                    Some(v) => v,
                    None => continue,
                }
            };
            start.get_or_insert(at - found.offset);
            hits.push((found.offset, n, w));
        }
        let Some(start) = start else {
            return Err(format!(
                "no samples of {name} kept for annotation yet: wait for the next refresh"
            ));
        };
        crate::annotate::live_function(
            &self.symbolizer,
            &path,
            kernel,
            start,
            &name,
            &hits,
            &self.events[self.active],
        )
    }
}
