//! The entries laid out: perf top's columns and percentages, the browser's table with its
//! call-graph nodes, and the `--stdio` frame.
use super::*;

impl Top {
    /// The entries of the event shown.
    pub(super) fn shown(&self) -> impl Iterator<Item = &Entry> {
        let active = self.active as u32;
        self.entries.iter().filter(move |e| e.key.event == active)
    }

    /// The total weight the percentages are of.
    pub(super) fn total(&self) -> u64 {
        self.shown().map(|e| e.own).sum()
    }

    pub(super) fn children_mode(&self) -> bool {
        self.view.graph && self.view.children
    }

    /// Entries in display order with their percentages, `--percent-limit` applied.
    pub(super) fn sorted(&self) -> Vec<&Entry> {
        let total = self.total().max(1) as f64;
        let cm = self.children_mode();
        let weight = |e: &Entry| if cm { e.children } else { e.own };
        let mut v: Vec<&Entry> = self
            .shown()
            .filter(|e| weight(e) as f64 * 100.0 / total >= self.view.percent_limit)
            .filter(|e| weight(e) > 0)
            .collect();
        v.sort_by(|a, b| {
            weight(b).cmp(&weight(a)).then_with(|| {
                self.syms[a.sym as usize]
                    .name
                    .cmp(&self.syms[b.sym as usize].name)
            })
        });
        v
    }

    pub(super) fn columns(&self) -> Vec<tui::Column> {
        let mut c = Vec::new();
        if self.children_mode() {
            c.push(tui::Column {
                title: "Children".into(),
                right: true,
            });
            c.push(tui::Column {
                title: "Self".into(),
                right: true,
            });
        } else {
            c.push(tui::Column {
                title: "Overhead".into(),
                right: true,
            });
        }
        for k in &self.view.sort {
            c.push(tui::Column {
                title: title(*k).into(),
                right: *k == SortKey::Cpu,
            });
        }
        c
    }

    pub(super) fn cells(&self, e: &Entry, total: f64) -> Vec<String> {
        let pct = |w: u64| format!("{:.2}%", w as f64 * 100.0 / total);
        let mut c = Vec::new();
        if self.children_mode() {
            c.push(pct(e.children));
        }
        c.push(pct(e.own));
        for k in &self.view.sort {
            c.push(match k {
                SortKey::Comm => self.session.comm_name(e.comm).to_string(),
                SortKey::Pid => format!("{:>7}:{}", e.pid, self.session.comm_name(e.comm)),
                SortKey::Dso => self.dso_name(e.dso).to_string(),
                SortKey::Sym => {
                    let s = &self.syms[e.sym as usize];
                    format!("[{}] {}", s.level, s.name)
                }
                SortKey::Cpu => format!("{:03}", e.cpu),
                SortKey::Srcline
                | SortKey::Parent
                | SortKey::Trace
                | SortKey::Cgroup
                | SortKey::CgroupId => String::new(),
            });
        }
        c
    }

    pub(super) fn nodes(&self, t: &Tree, total: f64, depth: usize) -> Vec<tui::Node> {
        // perf's default threshold: branches under 0.5% of the total are not shown.
        let mut kids: Vec<&Tree> = t
            .kids
            .iter()
            .filter(|k| k.cumul as f64 * 100.0 / total >= 0.5)
            .collect();
        kids.sort_by_key(|k| std::cmp::Reverse(k.cumul));
        kids.into_iter()
            .map(|k| tui::Node {
                percent: k.cumul as f64 * 100.0 / total,
                name: self.syms[k.sym as usize].name.clone(),
                children: if depth < 64 {
                    self.nodes(k, total, depth + 1)
                } else {
                    Vec::new()
                },
            })
            .collect()
    }

    /// The rate part of perf's headers: `4000Hz` or the period.
    pub(super) fn rate_text(&self, space: bool) -> String {
        match self.rate {
            (_, Some(p)) => format!("{p}"),
            (Some(f), None) if space => format!("{f} Hz"),
            (Some(f), None) => format!("{f}Hz"),
            (None, None) => String::new(),
        }
    }

    /// The browser's table: perf top's TUI title and the rows.
    pub fn table(&self, limit: Option<usize>) -> tui::Table {
        let total = self.total().max(1) as f64;
        let mut rows = Vec::new();
        for e in self.sorted().into_iter().take(limit.unwrap_or(usize::MAX)) {
            let s = &self.syms[e.sym as usize];
            rows.push(tui::Row {
                cells: self.cells(e, total),
                dso: self.dso_name(e.dso).to_string(),
                thread: format!("{} {}", self.session.comm_name(e.comm), e.pid),
                symbol: s.name.clone(),
                key: format!("{:?}", e.key),
                graph: if self.view.graph {
                    // The entry's own symbol heads its tree: with sym among the keys it
                    // repeats the row, and perf leaves it out.
                    let t = match e.tree.kids.as_slice() {
                        [only] if only.sym == e.sym && self.view.sort.contains(&SortKey::Sym) => {
                            only
                        }
                        _ => &e.tree,
                    };
                    self.nodes(t, total, 0)
                } else {
                    Vec::new()
                },
                ..Default::default()
            });
        }
        let freq = match self.rate {
            (Some(_), None) => format!(" {},", self.rate_text(true)),
            _ => String::new(),
        };
        tui::Table {
            title: format!(
                "Samples: {} of event '{}',{freq} Event count (approx.): {} lost: {}/{} drop: 0/0",
                crate::report::convert_unit(self.samples_by.get(self.active).copied().unwrap_or(0)),
                self.event,
                self.total(),
                self.interval.lost,
                self.lost_total,
            ),
            columns: self.columns(),
            rows,
        }
    }

    /// perf top's `PerfTop:` line for a frame that covered `secs` seconds.
    pub fn stdio_header(&self, secs: f64) -> String {
        let i = self.interval;
        let per_sec = i.samples as f64 / secs;
        let kernel = if i.samples > 0 {
            100.0 * i.kernel as f64 / i.samples as f64
        } else {
            0.0
        };
        let exact = if i.samples > 0 {
            100.0 * i.exact as f64 / i.samples as f64
        } else {
            0.0
        };
        let rate = if self.opened.len() == 1 {
            format!("{} ", self.rate_text(false))
        } else {
            String::new()
        };
        format!(
            "   PerfTop:{per_sec:8.0} irqs/sec  kernel:{kernel:4.1}%  exact: {exact:4.1}% lost: {}/{} drop: 0/0 [{rate}{}], {}",
            i.lost, self.lost_total, self.event, self.target
        )
    }

    /// perf top's text frame: clear screen, header, dashes, blank line, the rows (and call
    /// graphs with -g), each cut to `width - 1` columns; `rows` entries at most.
    pub fn stdio_frame(&self, secs: f64, width: usize, rows: usize) -> String {
        let w = width.saturating_sub(1).max(1);
        let mut out = String::from("\x1b[H\x1b[2J\n");
        let _ = writeln!(out, "{}", self.stdio_header(secs));
        let _ = writeln!(out, "{}", "-".repeat(w));
        out.push('\n');
        let t = self.table(Some(rows));
        let widths = tui::widths(&t.columns, t.rows.iter());
        let total = self.total().max(1);
        let entries = self.sorted();
        for (r, e) in t.rows.iter().zip(entries) {
            let line = format!("  {}", tui::layout(&r.cells, &widths, &t.columns));
            let _ = writeln!(out, "{}", line.chars().take(w).collect::<String>());
            if self.view.graph {
                let mut g = graph::Node::root();
                e.tree.paths(&mut Vec::new(), &mut g);
                let p = graph::Print {
                    style: graph::Style::Graph,
                    min_percent: 0.5,
                    limit: 0,
                    skip_first: self.view.sort.contains(&SortKey::Sym),
                };
                let parent = if self.children_mode() {
                    e.children
                } else {
                    e.own
                };
                graph::print(&mut out, &g, total, parent, p, &|id| {
                    self.syms[id as usize].name.clone()
                });
            }
        }
        out
    }
}
