//! A real SMTP server on loopback for tests: speaks enough of RFC 5321 (EHLO/HELO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT) for a client such as lettre, and keeps every message it receives.
//! Recipients starting with `nobody` are refused for good (550) and `full` for now (452), so
//! bounces and retries can be tested.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message (headers and body) as sent.
    pub data: String,
}

impl ReceivedMail {
    /// The body decoded from base64 (as Renkei sends it), or as sent.
    pub fn text(&self) -> String {
        let (headers, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        if headers
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: base64")
        {
            String::from_utf8(crate::base64_decode(body)).unwrap_or_default()
        } else {
            body.to_owned()
        }
    }
}

/// A running test SMTP server.
#[derive(Debug, Clone)]
pub struct TestSmtpServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl TestSmtpServer {
    /// Starts the server on a free port; it runs until the test's runtime ends.
    pub async fn start() -> TestSmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the test SMTP server");
        let port = listener.local_addr().expect("local address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = session(socket, store).await;
                });
            }
        });
        TestSmtpServer { port, mails }
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// `smtp://127.0.0.1:PORT?tls=none`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<ReceivedMail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 renkei-test ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write
                .write_all(b"250-renkei-test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                .await?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command[10..]);
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            // Like a real server: a mailbox that does not exist is refused for good, one that
            // is over quota for now.
            let recipient = address(&command[8..]);
            if recipient.starts_with("nobody") {
                write.write_all(b"550 5.1.1 No such user here\r\n").await?;
            } else if recipient.starts_with("full") {
                write
                    .write_all(b"452 4.2.2 Mailbox full, try later\r\n")
                    .await?;
            } else {
                to.push(recipient);
                write.write_all(b"250 OK\r\n").await?;
            }
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(unstuffed);
            }
            if let Ok(mut mails) = store.lock() {
                mails.push(ReceivedMail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
            }
            write.write_all(b"250 OK: queued\r\n").await?;
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"502 Command not implemented\r\n").await?;
        }
    }
}

fn address(arg: &str) -> String {
    arg.trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or("")
        .to_owned()
}
