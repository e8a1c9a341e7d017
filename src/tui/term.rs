//! The terminal while a browser owns it: raw mode and the alternate screen on entry, both
//! undone when the guard drops, on an error return and on a panic alike.
use std::io::{self, BufWriter, Stdout};
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEvent};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};

/// The terminal in full-screen mode; dropping it restores the shell's screen.
pub struct Screen {
    /// The ratatui terminal to draw with. Its output is buffered whole: stdout alone flushes
    /// every 1 KiB, so a frame reached the terminal in pieces and a half-drawn screen could be
    /// seen; ratatui flushes once at the end of each frame.
    pub term: ratatui::Terminal<CrosstermBackend<BufWriter<Stdout>>>,
}

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

impl Screen {
    /// Takes over the terminal. Fails with a clear message when stdout is not one.
    pub fn enter() -> anyhow::Result<Screen> {
        use std::io::IsTerminal;
        if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
            anyhow::bail!("the full-screen view needs a terminal on stdin and stdout; use --stdio");
        }
        // A panic prints after the screen is back, not into the alternate screen.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode()
            .map_err(|e| anyhow::anyhow!("cannot put the terminal in raw mode: {e}"))?;
        if let Err(e) = execute!(io::stdout(), EnterAlternateScreen, cursor::Hide) {
            restore();
            anyhow::bail!("cannot switch to the terminal's alternate screen: {e}");
        }
        match ratatui::Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
            1 << 16,
            io::stdout(),
        ))) {
            Ok(term) => Ok(Screen { term }),
            Err(e) => {
                restore();
                anyhow::bail!("cannot draw on the terminal: {e}")
            }
        }
    }

    /// The next input within `wait`: a key, a resize (redraw), nothing, or the terminal
    /// gone. The wait is on stdin itself: crossterm's own wait spins forever on a terminal
    /// that hung up (a closed ssh session or tmux window), so it is only asked once input is
    /// there, and without waiting (a resize arrives through it too).
    pub fn input(&mut self, wait: Duration) -> io::Result<Input> {
        use std::os::fd::AsFd;
        let ms = wait.as_millis().min(i32::MAX as u128) as i32;
        if crate::sys::ring::wait_input(io::stdin().as_fd(), ms)? == crate::sys::ring::Ready::HungUp
        {
            return Ok(Input::HungUp);
        }
        if !event::poll(Duration::ZERO)? {
            return Ok(Input::Nothing);
        }
        Ok(match event::read()? {
            Event::Key(k) => Input::Key(k),
            Event::Resize(..) => Input::Resize,
            _ => Input::Nothing,
        })
    }
}

/// What [`Screen::input`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A key.
    Key(KeyEvent),
    /// The terminal changed size.
    Resize,
    /// Nothing within the wait.
    Nothing,
    /// The terminal is gone: nothing more can be read or shown.
    HungUp,
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}
