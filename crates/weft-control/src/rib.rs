//! The route reflector: a RIB per VRF of the routes each agent published,
//! as a pure state machine.
//!
//! [`Rib::handle`] takes one [`RibInput`] and the current time and returns
//! the messages to send ([`RibOutput`]); [`Rib::poll`] expires grace
//! periods and [`Rib::poll_at`] says when it next needs to run. Nothing here
//! reads a clock, owns a socket or spawns a task.
//!
//! Paths are keyed by (VRF, prefix, origin node): two nodes may publish the
//! same prefix (ECMP, a moving address) and both paths are reflected. A
//! path is reflected to every session subscribed to its VRF except the
//! sessions of its origin node.
//!
//! Restart semantics: when a node's session goes down its paths become
//! *stale* and stay advertised until `now + grace`. If the node reconnects,
//! the deadline restarts (bounding the wait for its End-of-RIB); every path
//! it publishes again is refreshed (reflected only if it changed), and on
//! its End-of-RIB the paths still stale are withdrawn. If the deadline
//! passes first, all its stale paths are withdrawn.
//!
//! A reflector that starts after a restart of the control node knows no
//! path at all, while its agents still forward with what the previous one
//! reflected. Were it to end a subscriber's sync at once, that agent would
//! drop every remote route the other agents have not republished yet. So
//! [`Rib::starting`] takes the nodes expected to publish and holds each
//! subscription's End-of-RIB until all of them have sent theirs, or the
//! grace period has passed (BGP's selection deferral, RFC 4724 §4.1).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use weft_types::Prefix;

use crate::proto::Encapsulation;

/// Identifies one gRPC stream; a node gets a new one on each reconnect.
pub type SessionId = u64;

/// What a path says besides its next hop.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RouteAttrs {
    /// MPLS label allocated by the origin agent.
    pub label: u32,
    /// VXLAN network identifier.
    pub vni: u32,
    /// Encapsulations the origin accepts, preferred first.
    pub encapsulations: Vec<Encapsulation>,
    /// Security-group ids of the port behind the prefix.
    pub sg_ids: Vec<u32>,
}

/// A path as reflected to subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// VRF (the VN's FQ name).
    pub vrf: String,
    /// Destination prefix.
    pub prefix: Prefix,
    /// Underlay IPv4 of the origin node.
    pub next_hop: Ipv4Addr,
    /// Label, VNI, encapsulations, SG ids.
    pub attrs: RouteAttrs,
}

/// One event the reflector reacts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RibInput {
    /// A session said Hello.
    SessionUp {
        /// The new session.
        session: SessionId,
        /// Node name from Hello.
        node: String,
        /// Underlay IPv4 from Hello: the next hop of its routes.
        underlay: Ipv4Addr,
    },
    /// The session wants the routes of `vrf`.
    Subscribe {
        /// Subscriber.
        session: SessionId,
        /// VRF name.
        vrf: String,
    },
    /// The session no longer wants the routes of `vrf`.
    Unsubscribe {
        /// Subscriber.
        session: SessionId,
        /// VRF name.
        vrf: String,
    },
    /// The session's node originates `prefix` in `vrf`.
    Publish {
        /// Origin session.
        session: SessionId,
        /// VRF name.
        vrf: String,
        /// Destination.
        prefix: Prefix,
        /// Path attributes.
        attrs: RouteAttrs,
    },
    /// The session's node no longer originates `prefix` in `vrf`.
    Withdraw {
        /// Origin session.
        session: SessionId,
        /// VRF name.
        vrf: String,
        /// Destination.
        prefix: Prefix,
    },
    /// The session has republished all its routes.
    EndOfRib {
        /// Origin session.
        session: SessionId,
    },
    /// The stream ended (closed, reset, or superseded).
    SessionDown {
        /// The session that ended.
        session: SessionId,
    },
}

/// A protocol error, sent back to the session that caused it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    /// A message other than Hello arrived on a session without Hello.
    #[error("session {0} has not said Hello")]
    UnknownSession(SessionId),
    /// A second Hello on one session.
    #[error("session {0} already said Hello")]
    DuplicateHello(SessionId),
}

/// One thing the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RibOutput {
    /// Send a route to `to`.
    Add {
        /// Receiving session.
        to: SessionId,
        /// The path.
        route: Route,
    },
    /// Tell `to` the path via `next_hop` is gone.
    Withdraw {
        /// Receiving session.
        to: SessionId,
        /// VRF name.
        vrf: String,
        /// Destination.
        prefix: Prefix,
        /// Which path (the origin's underlay IP).
        next_hop: Ipv4Addr,
    },
    /// All current routes of `vrf` have been sent to `to`.
    EndOfRib {
        /// Receiving session.
        to: SessionId,
        /// VRF name.
        vrf: String,
    },
    /// Close `session`: its node opened a newer one.
    Close {
        /// The superseded session.
        session: SessionId,
    },
    /// `session` sent something the protocol does not allow.
    Reject {
        /// The offending session.
        session: SessionId,
        /// Why.
        error: RibError,
    },
}

#[derive(Debug)]
struct Path {
    next_hop: Ipv4Addr,
    attrs: RouteAttrs,
    stale: bool,
}

#[derive(Debug)]
struct NodeState {
    underlay: Ipv4Addr,
    session: Option<SessionId>,
    /// Set while the node has stale paths.
    stale_until: Option<Instant>,
}

#[derive(Debug)]
struct SessionState {
    node: String,
    subscriptions: BTreeSet<String>,
}

/// The reflector's state. See the module documentation.
#[derive(Debug)]
pub struct Rib {
    grace: Duration,
    nodes: BTreeMap<String, NodeState>,
    sessions: BTreeMap<SessionId, SessionState>,
    /// vrf → (prefix, origin node) → path.
    routes: BTreeMap<String, BTreeMap<(Prefix, String), Path>>,
    /// vrf → subscribed sessions.
    subscribers: BTreeMap<String, BTreeSet<SessionId>>,
    /// Set from start until the expected nodes have republished.
    deferral: Option<Deferral>,
}

/// End-of-RIBs held back after a start (see the module documentation).
#[derive(Debug)]
struct Deferral {
    until: Instant,
    /// Nodes whose End-of-RIB has not arrived yet.
    waiting: BTreeSet<String>,
    /// (session, VRF) whose End-of-RIB is due once the wait ends.
    held: BTreeSet<(SessionId, String)>,
}

impl Rib {
    /// A reflector that keeps a lost node's paths for `grace`.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            routes: BTreeMap::new(),
            subscribers: BTreeMap::new(),
            deferral: None,
        }
    }

    /// A reflector started at `now` while `nodes` may still forward with
    /// paths a previous control node reflected: subscribers get their
    /// End-of-RIB once every one of `nodes` has sent its own, or `grace`
    /// after `now`, whichever comes first.
    pub fn starting(
        grace: Duration,
        nodes: impl IntoIterator<Item = String>,
        now: Instant,
    ) -> Self {
        let waiting: BTreeSet<String> = nodes.into_iter().collect();
        let mut rib = Self::new(grace);
        if !waiting.is_empty() {
            rib.deferral = Some(Deferral {
                until: now + grace,
                waiting,
                held: BTreeSet::new(),
            });
        }
        rib
    }

    /// Whether subscribers' End-of-RIBs are still held back.
    pub fn deferring(&self) -> bool {
        self.deferral.is_some()
    }

    /// Reacts to one input at time `now`.
    pub fn handle(&mut self, input: RibInput, now: Instant) -> Vec<RibOutput> {
        let mut out = Vec::new();
        match input {
            RibInput::SessionUp {
                session,
                node,
                underlay,
            } => self.session_up(session, node, underlay, now, &mut out),
            RibInput::Subscribe { session, vrf } => self.subscribe(session, vrf, &mut out),
            RibInput::Unsubscribe { session, vrf } => {
                if let Some(state) = self.session_mut(session, &mut out) {
                    state.subscriptions.remove(&vrf);
                    if let Some(subs) = self.subscribers.get_mut(&vrf) {
                        subs.remove(&session);
                    }
                }
            }
            RibInput::Publish {
                session,
                vrf,
                prefix,
                attrs,
            } => self.publish(session, vrf, prefix, attrs, &mut out),
            RibInput::Withdraw {
                session,
                vrf,
                prefix,
            } => {
                if let Some(node) = self.session_mut(session, &mut out).map(|s| s.node.clone()) {
                    self.remove_path(&vrf, prefix, &node, &mut out);
                }
            }
            RibInput::EndOfRib { session } => {
                if let Some(node) = self.session_mut(session, &mut out).map(|s| s.node.clone()) {
                    self.sweep_stale(&node, &mut out);
                    let complete = self.deferral.as_mut().is_some_and(|d| {
                        d.waiting.remove(&node);
                        d.waiting.is_empty()
                    });
                    if complete {
                        self.end_deferral(&mut out);
                    }
                }
            }
            RibInput::SessionDown { session } => self.session_down(session, now),
        }
        out
    }

    /// When [`Rib::poll`] next has work: the earliest grace deadline, or
    /// the end of the start's deferral.
    pub fn poll_at(&self) -> Option<Instant> {
        self.nodes
            .values()
            .filter_map(|n| n.stale_until)
            .chain(self.deferral.as_ref().map(|d| d.until))
            .min()
    }

    /// Withdraws the stale paths of every node whose grace ran out by `now`
    /// and ends a start's deferral whose time is up.
    pub fn poll(&mut self, now: Instant) -> Vec<RibOutput> {
        let mut out = Vec::new();
        if self.deferral.as_ref().is_some_and(|d| d.until <= now) {
            self.end_deferral(&mut out);
        }
        let expired: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.stale_until.is_some_and(|t| t <= now))
            .map(|(name, _)| name.clone())
            .collect();
        for node in expired {
            self.sweep_stale(&node, &mut out);
        }
        out
    }

    /// The node a live session belongs to.
    pub fn session_node(&self, session: SessionId) -> Option<&str> {
        self.sessions.get(&session).map(|s| s.node.as_str())
    }

    /// Every path in `vrf`, stale or not, in key order.
    pub fn routes(&self, vrf: &str) -> Vec<Route> {
        self.routes
            .get(vrf)
            .into_iter()
            .flat_map(|paths| paths.iter())
            .map(|((prefix, _), path)| Route {
                vrf: vrf.to_owned(),
                prefix: *prefix,
                next_hop: path.next_hop,
                attrs: path.attrs.clone(),
            })
            .collect()
    }

    fn session_mut(
        &mut self,
        session: SessionId,
        out: &mut Vec<RibOutput>,
    ) -> Option<&mut SessionState> {
        let state = self.sessions.get_mut(&session);
        if state.is_none() {
            out.push(RibOutput::Reject {
                session,
                error: RibError::UnknownSession(session),
            });
        }
        state
    }

    fn session_up(
        &mut self,
        session: SessionId,
        node: String,
        underlay: Ipv4Addr,
        now: Instant,
        out: &mut Vec<RibOutput>,
    ) {
        if self.sessions.contains_key(&session) {
            out.push(RibOutput::Reject {
                session,
                error: RibError::DuplicateHello(session),
            });
            return;
        }
        // A node has one live session: a newer one supersedes the old.
        let previous = self.nodes.get(&node).and_then(|n| n.session);
        if let Some(old) = previous {
            self.session_down(old, now);
            out.push(RibOutput::Close { session: old });
        }
        let grace = self.grace;
        let state = self.nodes.entry(node.clone()).or_insert(NodeState {
            underlay,
            session: None,
            stale_until: None,
        });
        state.underlay = underlay;
        state.session = Some(session);
        if state.stale_until.is_some() {
            // Bound the wait for this session's End-of-RIB.
            state.stale_until = Some(now + grace);
        }
        self.sessions.insert(
            session,
            SessionState {
                node,
                subscriptions: BTreeSet::new(),
            },
        );
    }

    fn subscribe(&mut self, session: SessionId, vrf: String, out: &mut Vec<RibOutput>) {
        let Some(state) = self.session_mut(session, out) else {
            return;
        };
        state.subscriptions.insert(vrf.clone());
        let node = state.node.clone();
        self.subscribers
            .entry(vrf.clone())
            .or_default()
            .insert(session);
        if let Some(paths) = self.routes.get(&vrf) {
            for ((prefix, origin), path) in paths {
                if *origin != node {
                    out.push(RibOutput::Add {
                        to: session,
                        route: Route {
                            vrf: vrf.clone(),
                            prefix: *prefix,
                            next_hop: path.next_hop,
                            attrs: path.attrs.clone(),
                        },
                    });
                }
            }
        }
        match &mut self.deferral {
            Some(deferral) => {
                deferral.held.insert((session, vrf));
            }
            None => out.push(RibOutput::EndOfRib { to: session, vrf }),
        }
    }

    /// Sends the End-of-RIBs held since the start to the sessions still
    /// subscribed.
    fn end_deferral(&mut self, out: &mut Vec<RibOutput>) {
        let Some(deferral) = self.deferral.take() else {
            return;
        };
        for (to, vrf) in deferral.held {
            let subscribed = self
                .sessions
                .get(&to)
                .is_some_and(|s| s.subscriptions.contains(&vrf));
            if subscribed {
                out.push(RibOutput::EndOfRib { to, vrf });
            }
        }
    }

    fn publish(
        &mut self,
        session: SessionId,
        vrf: String,
        prefix: Prefix,
        attrs: RouteAttrs,
        out: &mut Vec<RibOutput>,
    ) {
        let Some(node) = self.session_mut(session, out).map(|s| s.node.clone()) else {
            return;
        };
        let Some(next_hop) = self.nodes.get(&node).map(|n| n.underlay) else {
            return;
        };
        let paths = self.routes.entry(vrf.clone()).or_default();
        let key = (prefix, node.clone());
        let previous = paths.insert(
            key,
            Path {
                next_hop,
                attrs: attrs.clone(),
                stale: false,
            },
        );
        match previous {
            Some(old) if old.next_hop == next_hop && old.attrs == attrs => return,
            Some(old) if old.next_hop != next_hop => {
                self.reflect_withdraw(&vrf, prefix, old.next_hop, &node, out);
            }
            _ => {}
        }
        let route = Route {
            vrf,
            prefix,
            next_hop,
            attrs,
        };
        for to in self.receivers(&route.vrf, &node) {
            out.push(RibOutput::Add {
                to,
                route: route.clone(),
            });
        }
    }

    fn remove_path(&mut self, vrf: &str, prefix: Prefix, node: &str, out: &mut Vec<RibOutput>) {
        let Some(paths) = self.routes.get_mut(vrf) else {
            return;
        };
        let Some(path) = paths.remove(&(prefix, node.to_owned())) else {
            return;
        };
        if paths.is_empty() {
            self.routes.remove(vrf);
        }
        self.reflect_withdraw(vrf, prefix, path.next_hop, node, out);
    }

    fn reflect_withdraw(
        &self,
        vrf: &str,
        prefix: Prefix,
        next_hop: Ipv4Addr,
        origin: &str,
        out: &mut Vec<RibOutput>,
    ) {
        for to in self.receivers(vrf, origin) {
            out.push(RibOutput::Withdraw {
                to,
                vrf: vrf.to_owned(),
                prefix,
                next_hop,
            });
        }
    }

    /// Sessions subscribed to `vrf`, except those of `origin`.
    fn receivers(&self, vrf: &str, origin: &str) -> Vec<SessionId> {
        self.subscribers
            .get(vrf)
            .into_iter()
            .flatten()
            .copied()
            .filter(|s| self.sessions.get(s).is_some_and(|st| st.node != origin))
            .collect()
    }

    fn session_down(&mut self, session: SessionId, now: Instant) {
        let Some(state) = self.sessions.remove(&session) else {
            return;
        };
        for vrf in &state.subscriptions {
            if let Some(subs) = self.subscribers.get_mut(vrf) {
                subs.remove(&session);
                if subs.is_empty() {
                    self.subscribers.remove(vrf);
                }
            }
        }
        let mut has_paths = false;
        for paths in self.routes.values_mut() {
            for ((_, origin), path) in paths.iter_mut() {
                if *origin == state.node {
                    path.stale = true;
                    has_paths = true;
                }
            }
        }
        let Some(node) = self.nodes.get_mut(&state.node) else {
            return;
        };
        if node.session == Some(session) {
            node.session = None;
        }
        if has_paths {
            node.stale_until = Some(now + self.grace);
        } else if node.session.is_none() {
            self.nodes.remove(&state.node);
        }
    }

    /// Withdraws `node`'s stale paths and ends its grace period.
    fn sweep_stale(&mut self, node: &str, out: &mut Vec<RibOutput>) {
        let stale: Vec<(String, Prefix)> = self
            .routes
            .iter()
            .flat_map(|(vrf, paths)| {
                paths
                    .iter()
                    .filter(|((_, origin), path)| origin == node && path.stale)
                    .map(|((prefix, _), _)| (vrf.clone(), *prefix))
            })
            .collect();
        for (vrf, prefix) in stale {
            self.remove_path(&vrf, prefix, node, out);
        }
        if let Some(state) = self.nodes.get_mut(node) {
            state.stale_until = None;
            if state.session.is_none() {
                self.nodes.remove(node);
            }
        }
    }
}

#[cfg(test)]
#[path = "rib_tests.rs"]
mod tests;
