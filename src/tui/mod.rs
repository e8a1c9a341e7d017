//! The full-screen profile browser shared by live and file views (`rperf top` and
//! `rperf report`): a table of rows with perf's columns, call graphs that expand under
//! their row, a symbol filter, dso/thread zoom, help, a scrollable text page (annotate),
//! and a text export of what is on screen. The data comes in as a [`Table`]; this module
//! only browses it.
pub mod term;

use std::fmt::Write as _;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The smallest screen the browser draws in: a title, column header, a few rows, the
/// status line. Below it, it says so instead of drawing a mangled table.
pub const MIN_WIDTH: u16 = 40;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 6;

/// A column of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Header text (`Overhead`, `Shared Object`).
    pub title: String,
    /// Numbers are right-aligned, names left-aligned.
    pub right: bool,
}

/// One node of a row's call graph: its share of the total and its callers or callees.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// Percent of the view's total.
    pub percent: f64,
    /// Function (or address) text.
    pub name: String,
    /// The next level.
    pub children: Vec<Node>,
}

/// A row: its cells (one per column, unpadded) and what zoom and filter look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Cell texts, one per [`Table::columns`].
    pub cells: Vec<String>,
    /// The row's binary, for `d` (zoom into a dso).
    pub dso: String,
    /// The row's thread as perf names it (`comm pid`), for `t`.
    pub thread: String,
    /// The symbol text `/` matches.
    pub symbol: String,
    /// A stable identity across refreshes (so an expanded row stays expanded).
    pub key: String,
    /// The call graph under the row, empty when none was sampled.
    pub graph: Vec<Node>,
    /// A call graph already laid out as text lines (report's, as `--stdio` prints it):
    /// shown instead of `graph` when not empty.
    pub graph_text: Vec<String>,
    /// The row has a call graph its caller lays out only once the row is expanded
    /// (into `graph_text`, see [`Browser::expanded_keys`]): large files open fast.
    pub lazy_graph: bool,
}

impl Row {
    /// Whether the row has a call graph to expand.
    pub fn has_graph(&self) -> bool {
        self.lazy_graph || !self.graph.is_empty() || !self.graph_text.is_empty()
    }
}

/// What the browser shows: a title line (perf's `Samples: … of event …`) and the rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// The title line.
    pub title: String,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows, sorted as they are to be shown.
    pub rows: Vec<Row>,
}

/// What a key asks of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond a redraw.
    None,
    /// Leave the browser.
    Quit,
    /// Write the current view (from [`Browser::export`]) to a file.
    Save,
    /// Show the next event's rows (`Tab`), or the previous one's (`true`: `Shift-Tab`).
    SwitchEvent(bool),
    /// Annotate the row at this index of [`Table::rows`] (the caller shows the text
    /// with [`Browser::show_text`]).
    Annotate(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Browse,
    /// Typing a `/` filter.
    Filter(String),
    Help,
    /// A page of text (an annotation) scrolled from `offset`; q/Esc go back.
    Text {
        title: String,
        lines: Vec<String>,
        offset: usize,
    },
}

/// Browser state: selection, scroll, expansions, filter and zooms.
#[derive(Debug, Clone)]
pub struct Browser {
    selected: usize,
    offset: usize,
    expanded: std::collections::HashSet<String>,
    filter: Option<String>,
    zoom_dso: Option<String>,
    zoom_thread: Option<String>,
    mode: Mode,
    /// A one-line note on the status line (a file written, an error).
    pub message: Option<String>,
    /// Rows shown the last time the screen was drawn: page keys move by it.
    page: usize,
}

impl Default for Browser {
    fn default() -> Self {
        Browser {
            selected: 0,
            offset: 0,
            expanded: Default::default(),
            filter: None,
            zoom_dso: None,
            zoom_thread: None,
            mode: Mode::Browse,
            message: None,
            page: 10,
        }
    }
}

/// A line of the flattened view: a row or a graph line under it.
#[derive(Debug, Clone)]
struct ViewLine {
    text: String,
    /// The index of the row it belongs to, in the table.
    row: usize,
}

/// Pads `cells` to `widths` and joins them with perf's two-space separator; the last
/// column is not padded.
pub fn layout(cells: &[String], widths: &[usize], columns: &[Column]) -> String {
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            s.push_str("  ");
        }
        let w = widths.get(i).copied().unwrap_or(0);
        let last = i + 1 == cells.len();
        if columns.get(i).is_some_and(|c| c.right) {
            let _ = write!(s, "{c:>w$}");
        } else if last {
            s.push_str(c);
        } else {
            let _ = write!(s, "{c:<w$}");
        }
    }
    s
}

/// Each column as wide as its title and its widest cell among `rows` (perf sizes columns
/// by the entries it shows).
pub fn widths<'a>(columns: &[Column], rows: impl Iterator<Item = &'a Row>) -> Vec<usize> {
    let mut w: Vec<usize> = columns.iter().map(|c| c.title.chars().count()).collect();
    for r in rows {
        for (i, c) in r.cells.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    w
}

fn graph_lines(out: &mut Vec<String>, nodes: &[Node], depth: usize) {
    for n in nodes {
        out.push(format!(
            "{:indent$}--{:.2}%--{}",
            "",
            n.percent,
            n.name,
            indent = 12 + depth * 4
        ));
        graph_lines(out, &n.children, depth + 1);
    }
}

impl Browser {
    /// A browser at the top of the table.
    pub fn new() -> Browser {
        Browser::default()
    }

    /// The zoomed dso, if any (callers may say so in their title).
    pub fn zoom_dso(&self) -> Option<&str> {
        self.zoom_dso.as_deref()
    }

    /// The zoomed thread, if any.
    pub fn zoom_thread(&self) -> Option<&str> {
        self.zoom_thread.as_deref()
    }

    /// The keys of the rows now expanded: a caller with lazy graphs lays those out.
    pub fn expanded_keys(&self) -> impl Iterator<Item = &str> {
        self.expanded.iter().map(String::as_str)
    }

    /// Shows `text` as a scrollable page over the table (q/Esc return to the table).
    pub fn show_text(&mut self, title: String, text: &str) {
        self.mode = Mode::Text {
            title,
            lines: text.lines().map(|l| l.replace('\t', "        ")).collect(),
            offset: 0,
        };
    }

    /// Whether a text page is shown.
    pub fn showing_text(&self) -> bool {
        matches!(self.mode, Mode::Text { .. })
    }

    fn shown(&self, r: &Row) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| r.symbol.contains(f.as_str()))
            && self.zoom_dso.as_ref().is_none_or(|d| &r.dso == d)
            && self.zoom_thread.as_ref().is_none_or(|t| &r.thread == t)
    }

    fn lines(&self, t: &Table) -> Vec<ViewLine> {
        let shown: Vec<(usize, &Row)> = t
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| self.shown(r))
            .collect();
        let w = widths(&t.columns, shown.iter().map(|(_, r)| *r));
        let mut out = Vec::new();
        for (i, r) in shown {
            let open = self.expanded.contains(&r.key);
            let fold = match (!r.has_graph(), open) {
                (true, _) => ' ',
                (false, false) => '+',
                (false, true) => '-',
            };
            out.push(ViewLine {
                text: format!("{fold} {}", layout(&r.cells, &w, &t.columns)),
                row: i,
            });
            if open && !r.graph_text.is_empty() {
                out.extend(r.graph_text.iter().map(|text| ViewLine {
                    text: text.clone(),
                    row: i,
                }));
            } else if open {
                let mut g = Vec::new();
                graph_lines(&mut g, &r.graph, 0);
                out.extend(g.into_iter().map(|text| ViewLine { text, row: i }));
            }
        }
        out
    }

    /// The column header line.
    fn header(&self, t: &Table) -> String {
        let rows = t.rows.iter().filter(|r| self.shown(r));
        let w = widths(&t.columns, rows);
        let titles: Vec<String> = t.columns.iter().map(|c| c.title.clone()).collect();
        format!("  {}", layout(&titles, &w, &t.columns))
    }

    /// Handles one key press against the table now shown.
    pub fn key(&mut self, k: KeyEvent, t: &Table) -> Action {
        if k.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(k.code, KeyCode::Char('c')) {
            return Action::Quit;
        }
        match &mut self.mode {
            Mode::Help => {
                self.mode = Mode::Browse;
                return Action::None;
            }
            Mode::Text { lines, offset, .. } => {
                let page = self.page.max(1);
                let last = lines.len().saturating_sub(1);
                match k.code {
                    KeyCode::Char('q') | KeyCode::Esc | KeyCode::Left => self.mode = Mode::Browse,
                    KeyCode::Down | KeyCode::Char('j') => *offset = (*offset + 1).min(last),
                    KeyCode::Up | KeyCode::Char('k') => *offset = offset.saturating_sub(1),
                    KeyCode::PageDown | KeyCode::Char(' ') => *offset = (*offset + page).min(last),
                    KeyCode::PageUp => *offset = offset.saturating_sub(page),
                    KeyCode::Home => *offset = 0,
                    KeyCode::End => *offset = last.saturating_sub(page.saturating_sub(1)),
                    _ => {}
                }
                return Action::None;
            }
            Mode::Filter(text) => {
                match k.code {
                    KeyCode::Enter => {
                        let f = std::mem::take(text);
                        self.filter = (!f.is_empty()).then_some(f);
                        self.mode = Mode::Browse;
                        self.selected = 0;
                        self.offset = 0;
                    }
                    KeyCode::Esc => self.mode = Mode::Browse,
                    KeyCode::Backspace => {
                        text.pop();
                    }
                    KeyCode::Char(c) => text.push(c),
                    _ => {}
                }
                return Action::None;
            }
            Mode::Browse => {}
        }
        self.message = None;
        let lines = self.lines(t);
        let last = lines.len().saturating_sub(1);
        let page = self.page.max(1);
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => {
                // Esc backs out of a zoom or filter first, as perf's browser does.
                if k.code == KeyCode::Esc
                    && (self.filter.is_some()
                        || self.zoom_dso.is_some()
                        || self.zoom_thread.is_some())
                {
                    self.filter = None;
                    self.zoom_dso = None;
                    self.zoom_thread = None;
                    self.selected = 0;
                    return Action::None;
                }
                return Action::Quit;
            }
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => {
                self.selected = (self.selected + page).min(last)
            }
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(page),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = last,
            // Enter and + toggle the selected entry's graph, e opens and c closes it.
            KeyCode::Enter | KeyCode::Char('+') | KeyCode::Char('e') | KeyCode::Char('c') => {
                if let Some(l) = lines.get(self.selected) {
                    let row = &t.rows[l.row];
                    if !row.has_graph() {
                        self.message = Some("no call graph for this entry (sample with -g)".into());
                    } else {
                        let open = match k.code {
                            KeyCode::Char('e') => true,
                            KeyCode::Char('c') => false,
                            _ => !self.expanded.contains(&row.key),
                        };
                        if open {
                            self.expanded.insert(row.key.clone());
                        } else {
                            self.expanded.remove(&row.key);
                        }
                    }
                    // The selection stays on the row itself.
                    self.selected = lines.iter().position(|x| x.row == l.row).unwrap_or(0);
                }
            }
            KeyCode::Char('E') => {
                for r in t.rows.iter().filter(|r| r.has_graph()) {
                    self.expanded.insert(r.key.clone());
                }
            }
            KeyCode::Char('C') => self.expanded.clear(),
            KeyCode::Char('a') => {
                if let Some(l) = lines.get(self.selected) {
                    return Action::Annotate(l.row);
                }
            }
            KeyCode::Char('/') => self.mode = Mode::Filter(String::new()),
            KeyCode::Char('d') => {
                self.zoom_dso = match (&self.zoom_dso, lines.get(self.selected)) {
                    (Some(_), _) | (None, None) => None,
                    (None, Some(l)) => Some(t.rows[l.row].dso.clone()),
                };
                self.selected = 0;
            }
            KeyCode::Char('t') => {
                self.zoom_thread = match (&self.zoom_thread, lines.get(self.selected)) {
                    (Some(_), _) | (None, None) => None,
                    (None, Some(l)) => Some(t.rows[l.row].thread.clone()),
                };
                self.selected = 0;
            }
            KeyCode::Char('P') => return Action::Save,
            KeyCode::Tab => return Action::SwitchEvent(false),
            KeyCode::BackTab => return Action::SwitchEvent(true),
            KeyCode::Char('h') | KeyCode::Char('?') | KeyCode::F(1) => self.mode = Mode::Help,
            _ => {}
        }
        Action::None
    }

    /// The view as text, as `P` writes it: title, column header, every row and open graph.
    pub fn export(&self, t: &Table) -> String {
        let mut s = format!("{}\n{}\n", t.title, self.header(t));
        for l in self.lines(t) {
            s.push_str(&l.text);
            s.push('\n');
        }
        s
    }

    /// The status line: the filter being typed, a message, or the zooms and the help hint.
    fn status(&self) -> String {
        if let Mode::Filter(f) = &self.mode {
            return format!("Symbol filter: {f}_   (Enter applies, Esc cancels)");
        }
        if let Mode::Text { title, .. } = &self.mode {
            return format!("{title}   (arrows, PgUp/PgDn scroll; q/Esc: back)");
        }
        if let Some(m) = &self.message {
            return m.clone();
        }
        let mut s = String::new();
        if let Some(d) = &self.zoom_dso {
            let _ = write!(s, "DSO: {d}  ");
        }
        if let Some(t) = &self.zoom_thread {
            let _ = write!(s, "Thread: {t}  ");
        }
        if let Some(f) = &self.filter {
            let _ = write!(s, "Filter: {f}  ");
        }
        s.push_str("Press 'h' for help on key bindings");
        s
    }

    /// Draws the table (or the help, or the too-small note) over the whole frame.
    pub fn draw(&mut self, f: &mut Frame, t: &Table) {
        let area = f.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let msg = format!(
                "terminal too small ({}x{}): rperf needs {MIN_WIDTH}x{MIN_HEIGHT}; enlarge it or use --stdio",
                area.width, area.height
            );
            f.render_widget(
                Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
                area,
            );
            return;
        }
        let width = area.width as usize;
        let cut = |s: &str| -> String { s.chars().take(width).collect() };
        let rev = Style::default().add_modifier(Modifier::REVERSED);
        let mut out: Vec<Line> = vec![
            Line::styled(format!("{:<width$}", cut(&t.title)), rev),
            Line::from(cut(&self.header(t))),
        ];
        let body = area.height as usize - 3;
        self.page = body;
        if self.mode == Mode::Help {
            out.extend(HELP.lines().take(body).map(|l| Line::from(cut(l))));
            out.resize(area.height as usize - 1, Line::from(""));
        } else if let Mode::Text { lines, offset, .. } = &self.mode {
            // The page takes the column header's line too.
            out.pop();
            out.extend(
                lines
                    .iter()
                    .skip(*offset)
                    .take(body + 1)
                    .map(|l| Line::from(cut(l))),
            );
            out.resize(area.height as usize - 1, Line::from(""));
        } else {
            let lines = self.lines(t);
            self.selected = self.selected.min(lines.len().saturating_sub(1));
            if self.selected < self.offset {
                self.offset = self.selected;
            } else if self.selected >= self.offset + body {
                self.offset = self.selected + 1 - body;
            }
            self.offset = self.offset.min(lines.len().saturating_sub(1));
            for (i, l) in lines.iter().enumerate().skip(self.offset).take(body) {
                let text = format!("{:<width$}", cut(&l.text));
                out.push(if i == self.selected {
                    Line::styled(text, rev)
                } else {
                    Line::from(text)
                });
            }
            if lines.is_empty() {
                out.push(Line::from("  (no samples yet)"));
            }
            out.resize(area.height as usize - 1, Line::from(""));
        }
        out.push(Line::styled(
            format!("{:<width$}", cut(&self.status())),
            rev,
        ));
        f.render_widget(Paragraph::new(out), Rect { ..area });
    }
}

const HELP: &str = "\
  Keys (any key closes this help)
  Up/Down, j/k      move the selection
  PgUp/PgDn, Space  move a page
  Home/End          first / last entry
  Enter, +          expand or collapse the entry's call graph
  e / c             expand / collapse the entry's call graph
  E / C             expand / collapse every call graph
  a                 annotate the entry's symbol (where the view can; Esc/q: back)
  /                 filter symbols (Enter applies, an empty filter clears)
  d                 zoom into the selected entry's dso (again: zoom out)
  t                 zoom into the selected entry's thread (again: zoom out)
  Esc               leave zoom and filter
  Tab / Shift-Tab   next / previous event (with several -e)
  P                 write the current view to a file
  h, ?              this help
  q, Ctrl-C         quit
";

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEvent;

    fn table() -> Table {
        let row = |pct: &str, dso: &str, sym: &str, graph: Vec<Node>| Row {
            cells: vec![pct.into(), dso.into(), format!("[.] {sym}")],
            dso: dso.into(),
            thread: format!("{dso} 1"),
            symbol: sym.into(),
            key: format!("{dso}/{sym}"),
            graph,
            ..Default::default()
        };
        Table {
            title: "Samples: 10 of event 'cpu-clock'".into(),
            columns: vec![
                Column {
                    title: "Overhead".into(),
                    right: true,
                },
                Column {
                    title: "Shared Object".into(),
                    right: false,
                },
                Column {
                    title: "Symbol".into(),
                    right: false,
                },
            ],
            rows: vec![
                row(
                    "60.00%",
                    "burn",
                    "spin",
                    vec![Node {
                        percent: 60.0,
                        name: "main".into(),
                        children: vec![],
                    }],
                ),
                row("40.00%", "libc.so.6", "memset", vec![]),
            ],
        }
    }

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::from(c)
    }

    #[test]
    fn rows_line_up_in_perf_columns() {
        let t = table();
        let b = Browser::new();
        let text = b.export(&t);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "  Overhead  Shared Object  Symbol");
        assert_eq!(lines[2], "+   60.00%  burn           [.] spin");
        assert_eq!(lines[3], "    40.00%  libc.so.6      [.] memset");
    }

    #[test]
    fn enter_expands_and_filter_zoom_narrow() {
        let t = table();
        let mut b = Browser::new();
        b.key(k(KeyCode::Enter), &t);
        let text = b.export(&t);
        assert!(text.contains("--60.00%--main"), "{text}");
        assert!(text.contains("-   60.00%"), "{text}");
        for c in "/mem".chars() {
            b.key(k(KeyCode::Char(c)), &t);
        }
        b.key(k(KeyCode::Enter), &t);
        let text = b.export(&t);
        assert!(!text.contains("spin") && text.contains("memset"), "{text}");
        assert_eq!(b.key(k(KeyCode::Esc), &t), Action::None);
        b.key(k(KeyCode::Down), &t);
        b.key(k(KeyCode::Down), &t);
        b.key(k(KeyCode::Char('d')), &t);
        assert_eq!(b.zoom_dso(), Some("libc.so.6"));
        assert!(!b.export(&t).contains("spin"));
        assert_eq!(b.key(k(KeyCode::Char('P')), &t), Action::Save);
        assert_eq!(b.key(k(KeyCode::Char('a')), &t), Action::Annotate(1));
        assert_eq!(b.key(k(KeyCode::Tab), &t), Action::SwitchEvent(false));
        assert_eq!(b.key(k(KeyCode::BackTab), &t), Action::SwitchEvent(true));
        assert_eq!(b.key(k(KeyCode::Char('q')), &t), Action::Quit);
    }

    #[test]
    fn fold_keys_lazy_graphs_and_the_text_page() {
        let mut t = table();
        t.rows[1].lazy_graph = true;
        let mut b = Browser::new();
        b.key(k(KeyCode::Char('E')), &t);
        assert_eq!(b.expanded_keys().count(), 2);
        // A lazy row's lines come from its caller once it is open.
        t.rows[1].graph_text = vec!["            ---caller".into()];
        assert!(b.export(&t).contains("---caller"));
        b.key(k(KeyCode::Char('C')), &t);
        assert_eq!(b.expanded_keys().count(), 0);
        b.key(k(KeyCode::Char('e')), &t);
        b.key(k(KeyCode::Char('e')), &t);
        assert_eq!(b.expanded_keys().collect::<Vec<_>>(), ["burn/spin"]);
        b.key(k(KeyCode::Char('c')), &t);
        assert_eq!(b.expanded_keys().count(), 0);
        b.key(k(KeyCode::Down), &t);
        assert_eq!(b.key(k(KeyCode::Char('a')), &t), Action::Annotate(1));
        b.show_text("Annotate memset".into(), "a\nb\nc");
        assert!(b.showing_text());
        // Keys scroll the page; q goes back to the table instead of quitting.
        assert_eq!(b.key(k(KeyCode::Down), &t), Action::None);
        assert_eq!(b.key(k(KeyCode::Char('q')), &t), Action::None);
        assert!(!b.showing_text());
        assert_eq!(b.key(k(KeyCode::Char('q')), &t), Action::Quit);
    }
}
