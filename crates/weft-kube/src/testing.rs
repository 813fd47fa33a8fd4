//! An in-memory model behind the [`Backend`] trait, for unit tests.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use jiff::Timestamp;
use uuid::Uuid;
use weft_model::{Command, Ctx, Entropy, Model};

use crate::backend::{Backend, SubmitError, Submitted};

#[derive(Default)]
struct Counter(u64);

impl Entropy for Counter {
    fn uuid(&mut self) -> Uuid {
        self.0 += 1;
        Uuid::from_u128(0xfeed_0000_0000_0000_0000 + u128::from(self.0))
    }
    fn mac_tail(&mut self) -> [u8; 3] {
        self.0 += 1;
        let b = self.0.to_be_bytes();
        [b[5], b[6], b[7]]
    }
}

pub(crate) struct Memory {
    state: Mutex<(Model, Counter)>,
}

impl Memory {
    pub(crate) fn new() -> Self {
        let mut model = Model::new();
        let mut entropy = Counter::default();
        let mut ctx = Ctx {
            now: Timestamp::UNIX_EPOCH,
            entropy: &mut entropy,
        };
        for change in model.bootstrap(&mut ctx) {
            model.apply(&change).unwrap();
        }
        Memory {
            state: Mutex::new((model, entropy)),
        }
    }

    pub(crate) fn run(
        &self,
        command: Command,
    ) -> Result<weft_model::Object, weft_model::ModelError> {
        let mut guard = self.state.lock().unwrap();
        let (model, entropy) = &mut *guard;
        let mut ctx = Ctx {
            now: Timestamp::UNIX_EPOCH,
            entropy,
        };
        model.execute(command, &mut ctx).map(|o| o.object)
    }

    /// The seed's OpenStack side: project k8s-contrail and its VN seamless
    /// (192.168.1.0/24), as `openstack network create` leaves them.
    pub(crate) fn create_seamless(&self) {
        let name = |s: &str| -> weft_types::FqName { s.parse().unwrap() };
        self.run(Command::CreateProject(weft_model::CreateProject {
            fq_name: name("default-domain:k8s-contrail"),
            id: None,
            description: String::new(),
            tags: vec![],
            external_id: None,
        }))
        .unwrap();
        self.run(Command::CreateNetwork(weft_model::CreateNetwork {
            subnets: vec![weft_model::CreateSubnet::with_cidr(
                weft_types::Prefix::parse_strict("192.168.1.0/24").unwrap(),
            )],
            ..weft_model::CreateNetwork::named(name("default-domain:k8s-contrail:seamless"))
        }))
        .unwrap();
    }
}

impl Backend for Memory {
    fn submit(&self, command: Command) -> Submitted {
        let result = self.run(command).map_err(SubmitError::Refused);
        Box::pin(async move { result })
    }

    fn read(&self, f: &mut dyn FnMut(&Model)) {
        f(&self.state.lock().unwrap().0);
    }
}
