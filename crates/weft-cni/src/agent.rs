//! Talking to the local agent, and the spool for DELs it cannot take now.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use weft_api::cni::{CniReply, CniRequest, CniTarget};

/// Why the agent gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the weft agent is not answering on {socket}")]
    Unreachable {
        socket: String,
        #[source]
        source: io::Error,
    },
    #[error("the weft agent on {socket} sent an unreadable answer: {detail}")]
    BadReply { socket: String, detail: String },
}

/// Sends one request and reads the answer.
pub fn ask(socket: &Path, request: &CniRequest, timeout: Duration) -> Result<CniReply, AgentError> {
    let name = socket.display().to_string();
    let unreachable = |source| AgentError::Unreachable {
        socket: name.clone(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(unreachable)?;
    let mut bytes = serde_json::to_vec(request).map_err(|e| AgentError::BadReply {
        socket: name.clone(),
        detail: e.to_string(),
    })?;
    bytes.push(b'\n');
    stream.write_all(&bytes).map_err(unreachable)?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(unreachable)?;
    if line.is_empty() {
        return Err(unreachable(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the agent closed the connection without answering",
        )));
    }
    serde_json::from_str(&line).map_err(|e| AgentError::BadReply {
        socket: name,
        detail: e.to_string(),
    })
}

/// Leaves a DEL in `dir` for the agent to finish when it is back:
/// `<container id>.<ifname>.json`, written to a temporary name, synced and
/// renamed so the agent never reads half a file.
pub fn spool(dir: &Path, target: &CniTarget) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.{}.json", target.container_id, target.ifname));
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&serde_json::to_vec(target).map_err(io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
