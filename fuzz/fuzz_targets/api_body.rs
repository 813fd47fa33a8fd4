//! An API request body: the first byte picks the request type (and, for an
//! update, which object of the prepared world it addresses), the rest is the
//! JSON body. It is decoded as the server decodes it and, if it decodes,
//! executed against the prepared world (`weft_fuzz::api::World`).
//!
//! Checked: neither decoding nor planning panics; a refused command changes
//! nothing; the model's invariants hold after it (see `check_model`); what
//! an accepted command wrote survives the store's encoding; and a create
//! followed by the delete of what it made gives back the model it started
//! from.

#![no_main]

use weft_fuzz::api::{self, World, ids};
use weft_model::{Change, Command, Ref};
use weft_server::extract::parse;

/// How many request types the first byte chooses from.
const TYPES: u8 = 19;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let Some(command) = decode(selector, json) else {
        return;
    };
    let creates = matches!(
        command,
        Command::CreateProject(_)
            | Command::CreateNetwork(_)
            | Command::CreateSubnet(_)
            | Command::CreatePort(_)
            | Command::CreateSecurityGroup(_)
            | Command::CreateSecurityGroupRule(_)
            | Command::CreateNode(_)
            | Command::CreateControlNode(_)
            | Command::CreateLoadBalancer(_)
    );
    let mut world = World::prepared();
    let before = api::fingerprint(&world.model);
    let Ok(outcome) = world.run(command) else {
        return;
    };
    for change in &outcome.changes {
        if let Change::Put(object) = change {
            api::check_stored(object);
        }
    }
    if creates && let Some(undo) = api::undo(&outcome.object) {
        world.must(undo);
        assert!(
            api::fingerprint(&world.model) == before,
            "create then delete of {} {} did not give back the model",
            outcome.object.kind(),
            outcome.object.id()
        );
    }
});

/// The command a request body makes, as the server's routes make it.
fn decode(selector: u8, json: &[u8]) -> Option<Command> {
    // The higher part of the selector picks the addressed object, by id or
    // by name.
    let which = selector / TYPES;
    let pick = |refs: &[Ref]| refs[usize::from(which) % refs.len()].clone();
    let name = |text: &str| Ref::Name(text.parse().unwrap_or_else(|e| panic!("{text}: {e}")));
    Some(match selector % TYPES {
        0 => Command::CreateProject(parse(json).ok()?),
        1 => Command::UpdateProject(pick(&[Ref::Id(ids::PROJECT), name("p")]), parse(json).ok()?),
        2 => Command::CreateNetwork(parse(json).ok()?),
        3 => Command::UpdateNetwork(
            pick(&[Ref::Id(ids::NETWORK), name("default-domain:p:n")]),
            parse(json).ok()?,
        ),
        4 => Command::CreateSubnet(parse(json).ok()?),
        5 => Command::UpdateSubnet(Ref::Id(ids::SUBNET_V4), parse(json).ok()?),
        6 => Command::UpdateSubnet(Ref::Id(ids::SUBNET_V6), parse(json).ok()?),
        7 => Command::CreatePort(parse(json).ok()?),
        8 => Command::UpdatePort(Ref::Id(ids::PORT_A), parse(json).ok()?),
        9 => Command::UpdatePort(Ref::Id(ids::PORT_B), parse(json).ok()?),
        10 => Command::CreateSecurityGroup(parse(json).ok()?),
        11 => Command::UpdateSecurityGroup(
            pick(&[Ref::Id(ids::GROUP_WEB), name("default-domain:p:web")]),
            parse(json).ok()?,
        ),
        12 => Command::UpdateSecurityGroup(name("default-domain:p:default"), parse(json).ok()?),
        13 => Command::CreateSecurityGroupRule(parse(json).ok()?),
        14 => Command::CreateNode(parse(json).ok()?),
        15 => Command::UpdateNode(
            pick(&[Ref::Id(ids::NODE), name("node-1")]),
            parse(json).ok()?,
        ),
        16 => Command::CreateControlNode(parse(json).ok()?),
        17 => Command::UpdateGlobalConfig(parse(json).ok()?),
        _ => Command::CreateLoadBalancer(parse(json).ok()?),
    })
}
