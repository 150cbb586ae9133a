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

/// Opens a connection to the server from `local` (another loopback address, as another client).
fn connect_from(local: &str, port: u16) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(std::net::SocketAddr::new(local.parse().unwrap(), 0))
            .unwrap();
        let stream = socket
            .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap();
        let stream = stream.into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
    })
}

/// Whether the server has closed `stream` (or answered and closed it).
fn closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 512];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => {
            // An answer (408 or 503): read on to the end.
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
            true
        }
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// H1 of the security probe: clients that open connections and send nothing, or send a
/// request's headers and then stop sending its body, held every connection slot for as long
/// as they liked. Now a connection must send its first byte within the header timeout and a
/// body must keep moving, and one client address holds at most its share of connections.
#[test]
fn idle_connections_and_stalled_bodies_do_not_shut_others_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = renkei();
    cmd.current_dir(dir.path()).args([
        "--max-connections",
        "8",
        "--max-connections-per-client",
        "4",
        "--header-timeout",
        "1",
    ]);
    let server = Server::start(cmd);
    let port = server.port;
    std::thread::sleep(Duration::from_millis(300));

    // One client opening ten connections that send nothing holds only its four.
    let mut hog: Vec<TcpStream> = (0..10).map(|_| connect_from("127.0.0.2", port)).collect();
    std::thread::sleep(Duration::from_millis(150));
    let asked = Instant::now();
    let (status, _) = http_get(port, "/healthz").unwrap();
    assert_eq!(status, 200, "another client is served at once");
    assert!(asked.elapsed() < Duration::from_millis(900));

    // More idle connections than the server serves, from several addresses: others are
    // answered again within the header timeout, and the idle ones are closed.
    let mut more: Vec<TcpStream> = ["127.0.0.3", "127.0.0.4"]
        .iter()
        .flat_map(|a| (0..4).map(|_| connect_from(a, port)).collect::<Vec<_>>())
        .collect();
    hog.append(&mut more);
    let started = Instant::now();
    loop {
        let (status, _) = http_get(port, "/healthz").unwrap();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still refused after 3 s with a 1 s header timeout"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    for s in &mut hog {
        while !closed(s) {
            assert!(Instant::now() < deadline, "an idle connection stayed open");
        }
    }

    // A body that stops arriving ends within the timeout too.
    let mut stalled = connect_from("127.0.0.5", port);
    stalled
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=",
        )
        .unwrap();
    let sent = Instant::now();
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stalled.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "the stalled body held the connection for {:?}",
        sent.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let (status, _) = http_get(port, "/healthz").unwrap();
    assert_eq!(status, 200);
    let out = server.terminate();
    assert!(out.status.success(), "it stops cleanly");
}
