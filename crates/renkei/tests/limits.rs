//! Resource limits of `renkei serve`: slow clients that trickle a request's headers a byte at a
//! time (slowloris) are cut off after the header timeout instead of holding connections; past
//! the connection limit a client gets an immediate 503 with Retry-After, not a hang or a crash;
//! once the slow clients are gone the server answers as before.

mod common;

use common::{http_get, renkei, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn slow_clients_are_cut_off_and_connections_past_the_limit_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path())
        .args(["--max-connections", "8", "--header-timeout", "1"]);
    let server = Server::start(cmd);
    let port = server.port;
    // Wait until the health probes' connections are gone.
    std::thread::sleep(Duration::from_millis(300));

    // Eight slow clients take every connection, each trickling its headers.
    let mut slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: local").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(150));

    // One more is refused at once, with a reason and when to come back.
    let asked = Instant::now();
    let (status, body) = http_get(port, "/healthz").expect("an answer, not a hang");
    assert_eq!(status, 503);
    assert!(body.contains("混み合っています"), "{body}");
    assert!(
        asked.elapsed() < Duration::from_millis(900),
        "refused at once"
    );

    // Trickling does not keep a connection: each is closed within the header timeout.
    let started = Instant::now();
    let mut closed = 0;
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
    }
    while closed < slow.len() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "slow clients still connected after 5 s ({closed} closed)"
        );
        closed = 0;
        for s in &mut slow {
            let _ = s.write_all(b"x");
            let mut buf = [0u8; 256];
            match s.read(&mut buf) {
                Ok(_) => closed += 1,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => closed += 1,
            }
        }
    }

    // The server answers as before.
    let (status, _) = http_get(port, "/healthz").unwrap();
    assert_eq!(status, 200);
    let out = server.terminate();
    assert!(out.status.success(), "it stops cleanly");
}
