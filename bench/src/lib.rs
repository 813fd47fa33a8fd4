//! Benchmarks of weft, each reported as a ratio against a reference measured
//! in the same run on the same machine and disk (DESIGN.md §5). A number on
//! its own says little about a shared 2-core VM whose disk speed changes from
//! day to day; the ratio to something measured a minute earlier on the same
//! disk does.
//!
//! # `port-create`
//!
//! Port creation through the native API, the path every Neutron and
//! Kubernetes plugin call takes. For each concurrency (default 1, 4 and 16):
//!
//! * a fresh `weft server` subprocess (release build, its own empty data
//!   directory, a free loopback port) gets a project `bench` and a network
//!   `default-domain:bench:net` with one /16 subnet;
//! * `N` ports (default 10,000) are created by `c` concurrent tasks sharing
//!   one HTTP client, each request timed from send to parsed answer. A create
//!   is answered only after its change is fsync'd, so every latency includes
//!   the HTTP round trip, validation, IPAM, the group commit and its fsync;
//! * throughput is `N` over the wall clock of the whole burst; latencies are
//!   reported as p50, p99 (nearest rank) and max;
//! * every port must have received a distinct address inside the /16. That
//!   is a correctness check, and a failure stops the benchmark with an error;
//! * the server's resident memory (`VmRSS`) and its peak (`VmHWM`) are read
//!   from `/proc/<pid>/status` after the burst, then the server is stopped
//!   with SIGTERM.
//!
//! The client runs on the same two cores as the server, so the figures are
//! for the server *and* its load generator sharing the machine.
//!
//! # References
//!
//! * **Naive durability** ([`reference::sqlite_inserts`] with one row per
//!   transaction): a plain SQLite database in the same temporary directory,
//!   WAL with `synchronous=FULL` like weft's store, inserting `N` rows of a
//!   JSON value shaped like a port as weft returns one (about 670 bytes; the
//!   report prints both sizes), one transaction — and so one fsync — per row,
//!   sequentially. This is what a server that makes each write durable before
//!   answering would get from this disk without group commit, before spending
//!   anything on HTTP, validation or IPAM. A ratio above 1 means weft's group
//!   commit more than pays for all of that. It is measured before the weft
//!   runs and again after them, since a shared VM's disk drifts; the ratios
//!   divide by the mean, and the report shows both figures.
//! * **Batched durability** (the same with `c` rows per transaction, for each
//!   concurrency `c` > 1): one fsync per `c` rows, which is the most a group
//!   commit can batch when only `c` requests are in flight. Weft's ratio to it
//!   shows how much of that disk-bound ceiling survives the rest of the work.
//!
//! # `convergence`
//!
//! From a port's plug on node A (its veth appearing in A's namespace) to its
//! /32 programmed in node B's vRouter, over a real `weft server` and two
//! real `weft agent`s in namespaces (`wbcv-…`), 1,000 ports per order, with
//! the API's create latency and the introspection probe's round trip as
//! references measured in the same run. See [`convergence`] for the method;
//! [`topology`] removes namespaces and processes, also those of a crashed
//! run. Needs root: `scripts/bench convergence`.
//!
//! # `neutron-api`
//!
//! Port creation through the OpenStack Neutron v2.0 API with Keystone
//! tokens, weft's Neutron API against a real Neutron 29 (PyPI, ML2,
//! MariaDB from Debian; `scripts/neutron-env`), both validating the same
//! member user's token against the same real Keystone, driven by the same
//! native keep-alive client in one run, at concurrency 4 and 16. The ratio
//! is weft's ports/s over Neutron's at each concurrency (target ≥ 100×).
//! Neutron gets fewer ports and a time cap, since it creates a few per
//! second. See [`neutron_api`] for the method; `bench/neutron/run`
//! (`scripts/bench neutron`) brings up Keystone, weft and Neutron.
//!
//! # Data plane
//!
//! `bench/dataplane/run` (a script, via `scripts/bench-dataplane`): weft's
//! vRouter against kernel VXLAN and Open vSwitch userspace between
//! namespaces, iperf3 and trafgen, in interleaved rounds.

pub mod convergence;
pub mod load;
pub mod neutron_api;
pub mod port_create;
pub mod reference;
pub mod report;
pub mod server;
pub mod stats;
pub mod topology;
