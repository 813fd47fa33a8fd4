use super::*;

const VRF: &str = "default-domain:k8s-contrail:seamless";

fn state() -> AgentState {
    AgentState::new(AgentIdentity {
        node_name: "a".into(),
        underlay_ip: Ipv4Addr::new(10, 0, 0, 1),
        encapsulations: vec![proto::Encapsulation::MplsOverUdp],
        agent_version: "test".into(),
        restart_generation: 3,
    })
}

fn prefix(text: &str) -> Prefix {
    Prefix::parse_strict(text).expect("test prefix")
}

fn add(p: &str, label: u32) -> proto::ServerMessage {
    proto::ServerMessage {
        msg: Some(server_message::Msg::RouteAdd(proto::RouteAdd {
            vrf: VRF.into(),
            prefix: p.into(),
            next_hop: "10.0.0.2".into(),
            label,
            vni: 0,
            encapsulations: vec![],
            sg_ids: vec![8_000_002],
        })),
    }
}

fn eor() -> proto::ServerMessage {
    proto::ServerMessage {
        msg: Some(server_message::Msg::EndOfRib(proto::EndOfRib {
            vrf: VRF.into(),
        })),
    }
}

#[test]
fn reconnect_replays_hello_subscriptions_routes_ports_then_end_of_rib() {
    let mut s = state();
    s.subscribe(VRF.into());
    s.publish(LocalRoute {
        vrf: VRF.into(),
        prefix: prefix("192.168.1.3/32"),
        attrs: RouteAttrs {
            label: 17,
            ..RouteAttrs::default()
        },
    });
    s.port_status("p1".into(), proto::PortState::Active);
    let before: Vec<_> = s.on_connected();
    assert!(
        !before
            .iter()
            .any(|m| matches!(m.msg, Some(agent_message::Msg::EndOfRib(_)))),
        "no End-of-RIB before the agent says its routes are complete"
    );
    s.local_complete();
    let kinds: Vec<_> = s
        .on_connected()
        .into_iter()
        .map(|m| match m.msg {
            Some(agent_message::Msg::Hello(h)) => {
                format!("hello {} {}", h.node_name, h.restart_generation)
            }
            Some(agent_message::Msg::Subscribe(x)) => format!("sub {}", x.vrf),
            Some(agent_message::Msg::Publish(p)) => {
                format!("pub {} {} {}", p.prefix, p.label, p.next_hop)
            }
            Some(agent_message::Msg::PortStatus(p)) => format!("port {}", p.port_id),
            Some(agent_message::Msg::EndOfRib(_)) => "eor".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "hello a 3".to_owned(),
            format!("sub {VRF}"),
            "pub 192.168.1.3/32 17 10.0.0.1".into(),
            "port p1".into(),
            "eor".into()
        ]
    );
}

#[test]
fn end_of_rib_after_reconnect_drops_only_unrefreshed_routes() {
    let mut s = state();
    assert_eq!(s.on_server_message(add("192.168.1.3/32", 17)).len(), 1);
    assert_eq!(s.on_server_message(add("192.168.1.4/32", 18)).len(), 1);
    s.on_disconnected();
    // Refreshed unchanged: no event.
    assert!(s.on_server_message(add("192.168.1.3/32", 17)).is_empty());
    let events = s.on_server_message(eor());
    assert_eq!(
        events,
        vec![
            AgentEvent::RouteWithdrawn {
                vrf: VRF.into(),
                prefix: prefix("192.168.1.4/32"),
                next_hop: Ipv4Addr::new(10, 0, 0, 2),
            },
            AgentEvent::VrfSynced { vrf: VRF.into() }
        ]
    );
    assert_eq!(s.remote_routes().len(), 1);
}

#[test]
fn unusable_route_is_reported_not_applied() {
    let mut s = state();
    let mut bad = add("192.168.1.3/32", 17);
    if let Some(server_message::Msg::RouteAdd(a)) = bad.msg.as_mut() {
        a.next_hop = "nowhere".into();
    }
    let events = s.on_server_message(bad);
    assert!(matches!(
        events.as_slice(),
        [AgentEvent::ServerError { .. }]
    ));
    assert!(s.remote_routes().is_empty());
}
