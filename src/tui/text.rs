//! A scrollable page of text over the browser (`rperf top`'s annotation): a title line,
//! the text, a status line; arrows, PgUp/PgDn, Home/End scroll, `Esc`/`q` close it.
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// What a key did to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Scrolled, or nothing.
    Stay,
    /// `Esc`/`q`: back to what was under it.
    Close,
    /// Ctrl-C: leave the program.
    Quit,
}

/// The page and where it is scrolled to.
#[derive(Debug, Clone)]
pub struct TextView {
    title: String,
    lines: Vec<String>,
    offset: usize,
    /// Lines shown at the last draw: page keys move by it.
    page: usize,
}

impl TextView {
    /// A page showing `text` under `title`, from its first line.
    pub fn new(title: String, text: &str) -> TextView {
        TextView {
            title,
            lines: text.lines().map(|l| l.replace('\t', "        ")).collect(),
            offset: 0,
            page: 10,
        }
    }

    /// The first line shown.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Handles one key.
    pub fn key(&mut self, k: KeyEvent) -> Key {
        if k.kind == KeyEventKind::Release {
            return Key::Stay;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return Key::Quit;
        }
        let last = self.lines.len().saturating_sub(1);
        let page = self.page.max(1);
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Left => return Key::Close,
            KeyCode::Down | KeyCode::Char('j') => self.offset = (self.offset + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => self.offset = self.offset.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => self.offset = (self.offset + page).min(last),
            KeyCode::PageUp => self.offset = self.offset.saturating_sub(page),
            KeyCode::Home => self.offset = 0,
            KeyCode::End => self.offset = last,
            _ => {}
        }
        Key::Stay
    }

    /// Draws the page over the whole frame.
    pub fn draw(&mut self, f: &mut Frame) {
        let area = f.area();
        let (width, height) = (area.width as usize, area.height as usize);
        if height < 3 {
            return;
        }
        let cut = |s: &str| -> String {
            let t: String = s.chars().take(width).collect();
            format!("{t:<width$}")
        };
        let rev = Style::default().add_modifier(Modifier::REVERSED);
        let body = height - 2;
        self.page = body;
        let mut out = vec![Line::styled(cut(&self.title), rev)];
        out.extend(
            self.lines
                .iter()
                .skip(self.offset)
                .take(body)
                .map(|l| Line::from(cut(l))),
        );
        out.resize(height - 1, Line::from(""));
        let status = format!(
            "line {}/{}   Esc/q: back   Up/Down, PgUp/PgDn: scroll",
            (self.offset + 1).min(self.lines.len()),
            self.lines.len()
        );
        out.push(Line::styled(cut(&status), rev));
        f.render_widget(Paragraph::new(out), area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolls_within_the_text_and_closes() {
        let text: String = (0..30).map(|i| format!("line {i}\n")).collect();
        let mut v = TextView::new("t".into(), &text);
        v.key(KeyEvent::from(KeyCode::Up));
        assert_eq!(v.offset(), 0);
        v.key(KeyEvent::from(KeyCode::PageDown));
        assert_eq!(v.offset(), 10);
        v.key(KeyEvent::from(KeyCode::End));
        assert_eq!(v.offset(), 29);
        v.key(KeyEvent::from(KeyCode::Down));
        assert_eq!(v.offset(), 29);
        assert_eq!(v.key(KeyEvent::from(KeyCode::Esc)), Key::Close);
        assert_eq!(v.key(KeyEvent::from(KeyCode::Char('q'))), Key::Close);
    }
}
