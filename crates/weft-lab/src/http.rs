//! A minimal HTTP GET made from inside a namespace: enough for readiness
//! checks and reading JSON views without a client stack in the lab.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use weft_system::Netns;

use crate::LabError;

/// The status code and body of `GET path` on `addr`, connecting from
/// inside `ns`.
pub fn get(ns: &Netns, addr: SocketAddr, path: &str) -> Result<(u16, String), LabError> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: */*\r\n\r\n");
    let io = |source| LabError::Io {
        what: format!("GET http://{addr}{path} in {}", ns.name()),
        source,
    };
    let raw = ns
        .run(|| -> std::io::Result<Vec<u8>> {
            let timeout = Duration::from_secs(2);
            let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            stream.write_all(request.as_bytes())?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw)?;
            Ok(raw)
        })?
        .map_err(io)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| LabError::Process {
            name: format!("http://{addr}"),
            why: format!("unreadable answer to GET {path}"),
        })?;
    Ok((status, body.to_owned()))
}

/// `GET path` answered 200 and its body parsed as JSON.
pub fn get_json(ns: &Netns, addr: SocketAddr, path: &str) -> Result<serde_json::Value, LabError> {
    let (status, body) = get(ns, addr, path)?;
    if status != 200 {
        return Err(LabError::Process {
            name: format!("http://{addr}"),
            why: format!("GET {path}: {status}: {body}"),
        });
    }
    serde_json::from_str(&body).map_err(|e| LabError::Process {
        name: format!("http://{addr}"),
        why: format!("GET {path}: not JSON: {e}"),
    })
}
