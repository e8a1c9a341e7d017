//! `rperf stat --serve`: the HTTP side. Binds the address before anything is counted (so a
//! taken port fails fast), then answers `/metrics` by reading the open counters at that
//! moment, on two worker threads, while the main thread waits for the stop.
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, Result};
use std::io::Write;

use tiny_http::{Response, Server};

use crate::stat::prometheus;

/// A bound, not yet serving, listener.
pub struct Bound {
    server: Server,
    /// Where it listens (the port resolved when 0 was asked for).
    pub addr: SocketAddr,
}

/// Parses `ADDR:PORT` (`127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`, or `:9464` for every
/// address, as Prometheus exporters take it) and binds it.
pub fn bind(text: &str) -> Result<Bound> {
    let bad =
        || anyhow!("invalid --serve address '{text}': expected ADDR:PORT, e.g. 127.0.0.1:9464");
    let spelled = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    let (host, port) = spelled.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    let addrs: Vec<SocketAddr> = spelled
        .to_socket_addrs()
        .map_err(|e| anyhow!("invalid --serve address '{text}': {e}"))?
        .collect();
    let Some(&first) = addrs.first() else {
        return Err(bad());
    };
    let listener = TcpListener::bind(&addrs[..]).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => " (another program listens there: pick a free port)",
            std::io::ErrorKind::AddrNotAvailable => {
                " (not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its own)"
            }
            std::io::ErrorKind::PermissionDenied => {
                " (ports below 1024 need root: pick a higher one)"
            }
            _ => "",
        };
        anyhow!("cannot listen on {first} for --serve: {e}{hint}")
    })?;
    let addr = listener.local_addr().unwrap_or(first);
    let server = Server::from_listener(listener, None)
        .map_err(|e| anyhow!("cannot serve on {addr}: {e}"))?;
    Ok(Bound { server, addr })
}

/// Serves until `until` returns (a stop was asked for, or the workload ended). `page`
/// reads every counter and renders the page into its buffer (OpenMetrics when asked).
pub fn run(
    bound: Bound,
    page: &(dyn Fn(&mut String, bool) -> Result<()> + Sync),
    until: impl FnOnce(),
) -> Result<()> {
    let stop = AtomicBool::new(false);
    let server = &bound.server;
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                // The page's buffer is kept between scrapes: a fresh multi-megabyte one
                // each time cost more in first-touch page faults than the counters' reads.
                let mut buf = String::new();
                while !stop.load(Ordering::SeqCst) {
                    match server.recv_timeout(Duration::from_millis(200)) {
                        Ok(Some(req)) => answer(req, page, &mut buf),
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
            });
        }
        until();
        stop.store(true, Ordering::SeqCst);
    });
    Ok(())
}

/// Bytes kept before the page for the response's status line and headers.
const HEAD_ROOM: usize = 256;

fn answer(
    req: tiny_http::Request,
    render: &(dyn Fn(&mut String, bool) -> Result<()> + Sync),
    page: &mut String,
) {
    use tiny_http::Method;
    if !matches!(req.method(), Method::Get | Method::Head) {
        let _ = req.respond(Response::from_string("only GET\n").with_status_code(405));
        return;
    }
    let head_only = *req.method() == Method::Head;
    let path = req.url().split('?').next().unwrap_or("");
    let resp = match path {
        "/metrics" => {
            let om = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Accept"))
                .is_some_and(|h| prometheus::wants_openmetrics(h.value.as_str()));
            // The page is rendered after room for the response's head, which is then
            // written just before it: head and page leave in one write(2). (tiny_http would
            // copy a large body 8 KiB at a time into chunked encoding.)
            page.clear();
            page.extend(std::iter::repeat_n(' ', HEAD_ROOM));
            match render(page, om) {
                Ok(()) => {
                    let ty = if om {
                        prometheus::OPENMETRICS_TYPE
                    } else {
                        prometheus::TEXT_TYPE
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nServer: rperf\r\nDate: {}\r\nContent-Type: {ty}\r\nContent-Length: {}\r\n\r\n",
                        httpdate::fmt_http_date(std::time::SystemTime::now()),
                        page.len() - HEAD_ROOM
                    );
                    let start = HEAD_ROOM - head.len();
                    page.replace_range(start..HEAD_ROOM, &head);
                    let end = if head_only { HEAD_ROOM } else { page.len() };
                    let mut w = req.into_writer();
                    // A client that went away is no error of rperf's.
                    let _ = w
                        .write_all(&page.as_bytes()[start..end])
                        .and_then(|()| w.flush());
                    return;
                }
                Err(e) => Response::from_string(format!("reading the counters: {e:#}\n"))
                    .with_status_code(500),
            }
        }
        "/" => {
            Response::from_string("rperf stat --serve: the counters are at /metrics\n".to_string())
        }
        _ => Response::from_string("not found: the counters are at /metrics\n".to_string())
            .with_status_code(404),
    };
    let _ = req.respond(resp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_addresses_are_one_line_errors() {
        for bad in ["9464", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", ""] {
            let e = bind(bad).err().unwrap().to_string();
            assert!(e.contains("invalid --serve address"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
        // An address not on this machine.
        let e = bind("192.0.2.1:9464").err().unwrap().to_string();
        assert!(e.contains("cannot listen on 192.0.2.1:9464"), "{e}");
        // A port already taken.
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = bind(&format!("127.0.0.1:{port}"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("pick a free port"), "{e}");
        let ok = bind("127.0.0.1:0").unwrap();
        assert_ne!(ok.addr.port(), 0);
    }
}
