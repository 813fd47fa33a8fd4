//! The human-readable report of `port-create`.

use std::fmt::Write;

use crate::port_create::Results;

/// The table and its explanations, as printed on stdout.
pub fn render(r: &Results) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, r);
    out
}

fn write_report(out: &mut String, r: &Results) -> std::fmt::Result {
    let (start, end) = (&r.naive_reference_start, &r.naive_reference_end);
    writeln!(
        out,
        "weft port-create: {} ports on one /16 per concurrency, a fresh `weft server` each time; \
         {} CPUs shared by server and client",
        r.ports, r.cpus
    )?;
    writeln!(
        out,
        "reference (naive durability): SQLite WAL, synchronous=FULL, one {}-byte row per \
         transaction, {} rows sequentially: {:.0} rows/s before the weft runs, {:.0} rows/s \
         after; mean {:.0} rows/s",
        start.value_bytes, start.rows, start.rows_per_sec, end.rows_per_sec, r.naive_rows_per_sec
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>11} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12} {:>9}",
        "concurrency",
        "ports/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "RSS MiB",
        "HWM MiB",
        "× naive",
        "batched r/s",
        "× batched"
    )?;
    for run in &r.runs {
        let (batched, ratio) = match (run.batched_reference, run.ratio_to_batched) {
            (Some(b), Some(x)) => (format!("{:.0}", b.rows_per_sec), format!("{x:.2}")),
            _ => ("(= naive)".to_owned(), format!("{:.2}", run.ratio_to_naive)),
        };
        writeln!(
            out,
            "{:>11} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>8.1} {:>8.2} {:>12} {:>9}",
            run.concurrency,
            run.ports_per_sec,
            run.p50_ms,
            run.p99_ms,
            run.max_ms,
            run.rss_mib,
            run.hwm_mib,
            run.ratio_to_naive,
            batched,
            ratio
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "ports/s: N ÷ wall clock of the whole burst; latency: each create from send to parsed \
         answer (answered only once fsync'd); RSS/HWM: the server's VmRSS/VmHWM after the burst."
    )?;
    writeln!(
        out,
        "× naive: weft ports/s ÷ mean naive reference rows/s. Above 1, group commit beats one fsync \
         per write even though weft also does HTTP, validation and IPAM."
    )?;
    writeln!(
        out,
        "batched: the same inserts with c rows per transaction (one fsync per c rows, the most a \
         group commit can batch with c requests in flight, with no HTTP, validation or IPAM); \
         × batched: weft ports/s ÷ that ceiling."
    )?;
    if let Some(bytes) = r.runs.iter().map(|run| run.port_json_bytes).max() {
        writeln!(
            out,
            "size check: one port as served is {bytes} bytes of JSON; a reference row is {} bytes.",
            start.value_bytes
        )?;
    }
    let t = &r.targets;
    let verdict = match (
        t.met,
        r.runs.iter().find(|run| run.concurrency == t.concurrency),
    ) {
        (Some(met), Some(run)) => format!(
            "{} ({:.0} ports/s, p99 {:.2} ms)",
            if met { "MET" } else { "NOT MET" },
            run.ports_per_sec,
            run.p99_ms
        ),
        _ => format!(
            "not measured (concurrency {} not in this run)",
            t.concurrency
        ),
    };
    writeln!(
        out,
        "issue target: ≥ {:.0} ports/s at concurrency {}, p99 < {:.0} ms: {verdict} \
         [informational]",
        t.min_ports_per_sec, t.concurrency, t.max_p99_ms
    )?;
    writeln!(out, "total run time: {:.1} s", r.total_seconds)?;
    Ok(())
}
