//! The `weft-cni` binary: the container runtime execs it with `CNI_*`
//! variables and the network configuration on stdin.

use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdin = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
        // Treated as an empty configuration: run() reports it as undecodable.
        let _ = writeln!(std::io::stderr(), "weft-cni: cannot read stdin: {e}");
        stdin.clear();
    }
    let outcome = weft_cni::run(|name| std::env::var(name).ok(), &stdin);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(outcome.stdout.as_bytes());
    let _ = out.flush();
    ExitCode::from(outcome.exit)
}
