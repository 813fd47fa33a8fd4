//! What a container runtime hands the CNI plugin: `CNI_*` variables and the
//! network configuration on stdin. The input is the environment as
//! `KEY=VALUE` lines, a NUL byte, then stdin.
//!
//! Checked: reading either never panics; a refusal has a code of the spec's
//! well-known range (1-99) and a message; an accepted configuration names a
//! supported version; an accepted environment for ADD, DEL or CHECK has a
//! container id and an interface name a kernel accepts. Where the plugin
//! answers without asking the agent (VERSION, or input it refuses), its
//! whole answer is checked: one JSON document naming a supported version,
//! exit 0 with `supportedVersions` or exit 1 with a code.

#![no_main]

use std::collections::HashMap;

use serde_json::Value;
use weft_cni::CniError;
use weft_cni::config::{NetConf, SUPPORTED_VERSIONS};
use weft_cni::env::{Command, Env};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (env_part, stdin) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let vars: HashMap<String, String> = String::from_utf8_lossy(env_part)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let var = |name: &str| vars.get(name).cloned();

    let env = Env::read(var);
    match &env {
        Err(e) => check_error(e),
        Ok(env) if matches!(env.command, Command::Add | Command::Del | Command::Check) => {
            assert!(!env.container_id.is_empty());
            assert!((1..=15).contains(&env.ifname.len()), "{}", env.ifname);
            assert!(!env.ifname.contains(['/', ':', ' ']), "{}", env.ifname);
            let _ = env.pod();
        }
        Ok(_) => {}
    }
    let conf = NetConf::parse(stdin);
    match &conf {
        Err(e) => check_error(e),
        Ok(conf) => {
            assert!(SUPPORTED_VERSIONS.contains(&conf.cni_version.as_str()));
            if let Some(prev) = &conf.prev_result {
                let _ = weft_cni::result::addresses(prev);
            }
        }
    }
    // Only these answers are given without a connection to the agent.
    let offline = match &env {
        Err(_) => true,
        Ok(env) => env.command == Command::Version || conf.is_err(),
    };
    if offline {
        let outcome = weft_cni::run(var, stdin);
        let answer: Value = serde_json::from_str(&outcome.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", outcome.stdout));
        let version = answer["cniVersion"].as_str().unwrap_or_default();
        assert!(SUPPORTED_VERSIONS.contains(&version), "{answer}");
        match outcome.exit {
            0 => assert!(answer["supportedVersions"].is_array(), "{answer}"),
            1 => assert!(
                answer["code"]
                    .as_u64()
                    .is_some_and(|c| (1..100).contains(&c))
            ),
            other => panic!("exit {other}: {answer}"),
        }
    }
});

fn check_error(e: &CniError) {
    assert!((1..100).contains(&e.code), "{e:?}");
    assert!(!e.msg.is_empty(), "{e:?}");
}
