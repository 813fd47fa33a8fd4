//! A model driven by commands with deterministic ids, as tests need it.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::IpAddr;

use jiff::Timestamp;
use uuid::Uuid;
use weft_model::*;

/// Deterministic ids and MACs.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) u64);

impl Entropy for Counter {
    fn uuid(&mut self) -> Uuid {
        self.0 += 1;
        Uuid::from_u128(u128::from(self.0))
    }
    fn mac_tail(&mut self) -> [u8; 3] {
        self.0 += 1;
        let b = self.0.to_be_bytes();
        [b[5], b[6], b[7]]
    }
}

pub(crate) struct World {
    pub(crate) model: Model,
    pub(crate) entropy: Counter,
    pub(crate) log: Vec<Change>,
}

impl World {
    pub(crate) fn new() -> Self {
        let mut w = World {
            model: Model::new(),
            entropy: Counter::default(),
            log: Vec::new(),
        };
        let mut ctx = Ctx {
            now: Timestamp::UNIX_EPOCH,
            entropy: &mut w.entropy,
        };
        let changes = w.model.bootstrap(&mut ctx);
        for c in &changes {
            w.model.apply(c).unwrap();
        }
        w.log.extend(changes);
        w
    }

    pub(crate) fn run(&mut self, command: Command) -> Result<Object, ModelError> {
        let mut ctx = Ctx {
            now: Timestamp::UNIX_EPOCH,
            entropy: &mut self.entropy,
        };
        let before = format!("{:?}", self.model.ports().collect::<Vec<_>>());
        let result = self.model.execute(command, &mut ctx);
        match result {
            Ok(outcome) => {
                self.log.extend(outcome.changes);
                Ok(outcome.object)
            }
            Err(e) => {
                // A refused command changes nothing.
                assert_eq!(
                    before,
                    format!("{:?}", self.model.ports().collect::<Vec<_>>())
                );
                Err(e)
            }
        }
    }

    pub(crate) fn project(&mut self, name: &str) -> Uuid {
        let req = CreateProject {
            fq_name: name.parse().unwrap(),
            id: None,
            description: String::new(),
            tags: Vec::new(),
            external_id: None,
        };
        self.run(Command::CreateProject(req)).unwrap().id()
    }

    pub(crate) fn network(&mut self, fq: &str, cidrs: &[&str]) -> Result<Object, ModelError> {
        let req: CreateNetwork = serde_json::from_value(serde_json::json!({
            "fq_name": fq,
            "subnets": cidrs.iter().map(|c| serde_json::json!({"cidr": c})).collect::<Vec<_>>(),
        }))
        .unwrap();
        self.run(Command::CreateNetwork(req))
    }

    pub(crate) fn port(
        &mut self,
        network: &str,
        extra: serde_json::Value,
    ) -> Result<Port, ModelError> {
        let mut body = serde_json::json!({"network": network});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let req: CreatePort = serde_json::from_value(body).unwrap();
        match self.run(Command::CreatePort(req))? {
            Object::Port(p) => Ok(p),
            other => panic!("not a port: {other:?}"),
        }
    }
}

pub(crate) fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}
