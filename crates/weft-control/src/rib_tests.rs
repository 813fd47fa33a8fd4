use super::*;

const VRF: &str = "default-domain:k8s-contrail:seamless";
const GRACE: Duration = Duration::from_secs(30);
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const C_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

fn prefix(text: &str) -> Prefix {
    Prefix::parse_strict(text).expect("test prefix")
}

fn attrs(label: u32) -> RouteAttrs {
    RouteAttrs {
        label,
        vni: 5,
        encapsulations: vec![Encapsulation::MplsOverUdp, Encapsulation::MplsOverGre],
        sg_ids: vec![8_000_002],
    }
}

fn up(rib: &mut Rib, session: SessionId, node: &str, ip: Ipv4Addr, now: Instant) {
    let out = rib.handle(
        RibInput::SessionUp {
            session,
            node: node.into(),
            underlay: ip,
        },
        now,
    );
    assert!(out.is_empty(), "{out:?}");
}

fn sub(rib: &mut Rib, session: SessionId, now: Instant) -> Vec<RibOutput> {
    rib.handle(
        RibInput::Subscribe {
            session,
            vrf: VRF.into(),
        },
        now,
    )
}

fn publish(rib: &mut Rib, session: SessionId, p: &str, label: u32, now: Instant) -> Vec<RibOutput> {
    rib.handle(
        RibInput::Publish {
            session,
            vrf: VRF.into(),
            prefix: prefix(p),
            attrs: attrs(label),
        },
        now,
    )
}

fn add(to: SessionId, p: &str, next_hop: Ipv4Addr, label: u32) -> RibOutput {
    RibOutput::Add {
        to,
        route: Route {
            vrf: VRF.into(),
            prefix: prefix(p),
            next_hop,
            attrs: attrs(label),
        },
    }
}

fn withdraw(to: SessionId, p: &str, next_hop: Ipv4Addr) -> RibOutput {
    RibOutput::Withdraw {
        to,
        vrf: VRF.into(),
        prefix: prefix(p),
        next_hop,
    }
}

/// A (session 1) and B (session 2) subscribed to VRF; C (session 3) not.
fn three_nodes(now: Instant) -> Rib {
    let mut rib = Rib::new(GRACE);
    up(&mut rib, 1, "a", A_IP, now);
    up(&mut rib, 2, "b", B_IP, now);
    up(&mut rib, 3, "c", C_IP, now);
    sub(&mut rib, 1, now);
    sub(&mut rib, 2, now);
    rib
}

#[test]
fn publish_reflects_to_subscribers_but_not_origin() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    let out = publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    assert_eq!(out, vec![add(2, "192.168.1.3/32", A_IP, 17)]);
}

#[test]
fn subscribe_dumps_current_routes_then_end_of_rib() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    publish(&mut rib, 2, "192.168.1.4/32", 18, t0);
    let out = sub(&mut rib, 3, t0);
    assert_eq!(
        out,
        vec![
            add(3, "192.168.1.3/32", A_IP, 17),
            add(3, "192.168.1.4/32", B_IP, 18),
            eor(3),
        ]
    );
}

#[test]
fn republishing_the_same_path_is_silent_and_a_change_is_reflected() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    assert!(publish(&mut rib, 1, "192.168.1.3/32", 17, t0).is_empty());
    assert_eq!(
        publish(&mut rib, 1, "192.168.1.3/32", 19, t0),
        vec![add(2, "192.168.1.3/32", A_IP, 19)]
    );
}

#[test]
fn withdraw_is_reflected_and_unknown_withdraw_is_ignored() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    let input = RibInput::Withdraw {
        session: 1,
        vrf: VRF.into(),
        prefix: prefix("192.168.1.3/32"),
    };
    assert_eq!(
        rib.handle(input.clone(), t0),
        vec![withdraw(2, "192.168.1.3/32", A_IP)]
    );
    assert!(rib.handle(input, t0).is_empty());
    assert!(rib.routes(VRF).is_empty());
}

#[test]
fn unsubscribed_session_gets_nothing() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    rib.handle(
        RibInput::Unsubscribe {
            session: 2,
            vrf: VRF.into(),
        },
        t0,
    );
    assert!(publish(&mut rib, 1, "192.168.1.3/32", 17, t0).is_empty());
}

#[test]
fn messages_before_hello_are_rejected() {
    let t0 = Instant::now();
    let mut rib = Rib::new(GRACE);
    assert_eq!(
        publish(&mut rib, 9, "192.168.1.3/32", 17, t0),
        vec![RibOutput::Reject {
            session: 9,
            error: RibError::UnknownSession(9)
        }]
    );
    up(&mut rib, 9, "a", A_IP, t0);
    let again = rib.handle(
        RibInput::SessionUp {
            session: 9,
            node: "a".into(),
            underlay: A_IP,
        },
        t0,
    );
    assert_eq!(
        again,
        vec![RibOutput::Reject {
            session: 9,
            error: RibError::DuplicateHello(9)
        }]
    );
}

#[test]
fn session_loss_keeps_routes_stale_until_grace_expires() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    let out = rib.handle(RibInput::SessionDown { session: 1 }, t0);
    assert!(out.is_empty(), "nothing is withdrawn at once: {out:?}");
    assert_eq!(rib.routes(VRF).len(), 1);
    assert_eq!(rib.poll_at(), Some(t0 + GRACE));
    assert!(rib.poll(t0 + GRACE - Duration::from_millis(1)).is_empty());
    assert_eq!(
        rib.poll(t0 + GRACE),
        vec![withdraw(2, "192.168.1.3/32", A_IP)]
    );
    assert_eq!(rib.poll_at(), None);
    assert!(rib.routes(VRF).is_empty());
}

#[test]
fn refresh_before_end_of_rib_keeps_routes_without_churn() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    rib.handle(RibInput::SessionDown { session: 1 }, t0);
    let t1 = t0 + Duration::from_secs(10);
    up(&mut rib, 11, "a", A_IP, t1);
    assert!(publish(&mut rib, 11, "192.168.1.3/32", 17, t1).is_empty());
    assert!(
        rib.handle(RibInput::EndOfRib { session: 11 }, t1)
            .is_empty()
    );
    assert_eq!(rib.poll_at(), None);
    assert!(rib.poll(t1 + GRACE * 2).is_empty());
    assert_eq!(rib.routes(VRF).len(), 1);
}

#[test]
fn end_of_rib_removes_unrefreshed_stale_routes() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    publish(&mut rib, 1, "192.168.1.5/32", 20, t0);
    rib.handle(RibInput::SessionDown { session: 1 }, t0);
    let t1 = t0 + Duration::from_secs(1);
    up(&mut rib, 11, "a", A_IP, t1);
    publish(&mut rib, 11, "192.168.1.3/32", 17, t1);
    assert_eq!(
        rib.handle(RibInput::EndOfRib { session: 11 }, t1),
        vec![withdraw(2, "192.168.1.5/32", A_IP)]
    );
    assert_eq!(rib.routes(VRF).len(), 1);
}

#[test]
fn reconnect_restarts_the_grace_deadline_as_end_of_rib_bound() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    rib.handle(RibInput::SessionDown { session: 1 }, t0);
    let t1 = t0 + Duration::from_secs(20);
    up(&mut rib, 11, "a", A_IP, t1);
    assert_eq!(rib.poll_at(), Some(t1 + GRACE));
    // No End-of-RIB in time: the unrefreshed path goes.
    assert_eq!(
        rib.poll(t1 + GRACE),
        vec![withdraw(2, "192.168.1.3/32", A_IP)]
    );
}

#[test]
fn a_new_session_supersedes_the_old_one_of_the_same_node() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    let out = rib.handle(
        RibInput::SessionUp {
            session: 11,
            node: "a".into(),
            underlay: A_IP,
        },
        t0,
    );
    assert_eq!(out, vec![RibOutput::Close { session: 1 }]);
    assert_eq!(rib.session_node(1), None);
    assert_eq!(rib.session_node(11), Some("a"));
    // The late SessionDown of the old stream changes nothing.
    assert!(
        rib.handle(RibInput::SessionDown { session: 1 }, t0)
            .is_empty()
    );
    assert_eq!(rib.poll_at(), Some(t0 + GRACE));
}

#[test]
fn reconnect_with_a_new_underlay_moves_the_path() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    publish(&mut rib, 1, "192.168.1.3/32", 17, t0);
    rib.handle(RibInput::SessionDown { session: 1 }, t0);
    let moved = Ipv4Addr::new(10, 0, 1, 1);
    up(&mut rib, 11, "a", moved, t0);
    assert_eq!(
        publish(&mut rib, 11, "192.168.1.3/32", 17, t0),
        vec![
            withdraw(2, "192.168.1.3/32", A_IP),
            add(2, "192.168.1.3/32", moved, 17)
        ]
    );
}

#[test]
fn subscriber_loss_stops_reflection_to_it() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    rib.handle(RibInput::SessionDown { session: 2 }, t0);
    assert!(publish(&mut rib, 1, "192.168.1.3/32", 17, t0).is_empty());
    // B had no paths, so nothing waits for a grace period.
    assert_eq!(rib.poll_at(), None);
}

#[test]
fn same_prefix_from_two_nodes_keeps_both_paths() {
    let t0 = Instant::now();
    let mut rib = three_nodes(t0);
    sub(&mut rib, 3, t0);
    publish(&mut rib, 1, "10.9.9.9/32", 17, t0);
    publish(&mut rib, 2, "10.9.9.9/32", 30, t0);
    assert_eq!(rib.routes(VRF).len(), 2);
    let out = rib.handle(
        RibInput::Withdraw {
            session: 1,
            vrf: VRF.into(),
            prefix: prefix("10.9.9.9/32"),
        },
        t0,
    );
    assert_eq!(
        out,
        vec![
            withdraw(2, "10.9.9.9/32", A_IP),
            withdraw(3, "10.9.9.9/32", A_IP)
        ]
    );
    assert_eq!(rib.routes(VRF).len(), 1);
}

fn end_of_rib(rib: &mut Rib, session: SessionId, now: Instant) -> Vec<RibOutput> {
    rib.handle(RibInput::EndOfRib { session }, now)
}

fn eor(to: SessionId) -> RibOutput {
    RibOutput::EndOfRib {
        to,
        vrf: VRF.into(),
    }
}

/// After a restart of the control node, B must not hear End-of-RIB (and
/// drop A's path) before A has republished: the restart window in which a
/// reply between the two was lost.
#[test]
fn a_started_reflector_holds_end_of_rib_until_the_expected_nodes_republished() {
    let t0 = Instant::now();
    let mut rib = Rib::starting(GRACE, ["a".to_owned(), "b".to_owned()], t0);
    assert!(rib.deferring());
    up(&mut rib, 2, "b", B_IP, t0);
    assert!(
        sub(&mut rib, 2, t0).is_empty(),
        "B's sync ended before A spoke"
    );
    assert!(end_of_rib(&mut rib, 2, t0).is_empty());
    up(&mut rib, 1, "a", A_IP, t0);
    assert!(sub(&mut rib, 1, t0).is_empty());
    assert_eq!(
        publish(&mut rib, 1, "192.168.1.3/32", 17, t0),
        vec![add(2, "192.168.1.3/32", A_IP, 17)]
    );
    assert_eq!(end_of_rib(&mut rib, 1, t0), vec![eor(1), eor(2)]);
    assert!(!rib.deferring());
    // From now on a subscription ends at once.
    up(&mut rib, 3, "c", C_IP, t0);
    assert_eq!(
        sub(&mut rib, 3, t0),
        vec![add(3, "192.168.1.3/32", A_IP, 17), eor(3)]
    );
}

#[test]
fn a_started_reflector_stops_waiting_when_the_grace_period_ends() {
    let t0 = Instant::now();
    let mut rib = Rib::starting(GRACE, ["a".to_owned(), "gone".to_owned()], t0);
    assert_eq!(rib.poll_at(), Some(t0 + GRACE));
    up(&mut rib, 1, "a", A_IP, t0);
    assert!(sub(&mut rib, 1, t0).is_empty());
    // A subscription dropped while held gets no End-of-RIB.
    up(&mut rib, 2, "b", B_IP, t0);
    assert!(sub(&mut rib, 2, t0).is_empty());
    rib.handle(
        RibInput::Unsubscribe {
            session: 2,
            vrf: VRF.into(),
        },
        t0,
    );
    assert!(
        end_of_rib(&mut rib, 1, t0).is_empty(),
        "still waiting for 'gone'"
    );
    assert!(rib.poll(t0 + GRACE - Duration::from_millis(1)).is_empty());
    assert_eq!(rib.poll(t0 + GRACE), vec![eor(1)]);
    assert!(!rib.deferring());
    assert_eq!(rib.poll_at(), None);
}

#[test]
fn a_reflector_started_without_known_nodes_does_not_wait() {
    let t0 = Instant::now();
    let mut rib = Rib::starting(GRACE, Vec::new(), t0);
    assert!(!rib.deferring());
    up(&mut rib, 1, "a", A_IP, t0);
    assert_eq!(sub(&mut rib, 1, t0), vec![eor(1)]);
}
