//! The agent's side of the protocol as a pure state machine: what it has
//! published and subscribed (to replay after a reconnect) and its copy of
//! the remote routes (to drop the stale ones at the server's End-of-RIB).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use weft_types::Prefix;

use crate::proto::{self, agent_message, server_message};
use crate::rib::RouteAttrs;

/// A route of a local port, published by this agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalRoute {
    /// VRF (the VN's FQ name).
    pub vrf: String,
    /// The port's address.
    pub prefix: Prefix,
    /// Label, VNI, encapsulations, the port's SG ids.
    pub attrs: RouteAttrs,
}

/// A route learnt from the control node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRoute {
    /// VRF (the VN's FQ name).
    pub vrf: String,
    /// Destination.
    pub prefix: Prefix,
    /// Underlay IPv4 of the node behind it.
    pub next_hop: Ipv4Addr,
    /// Label, VNI, encapsulations, the remote port's SG ids.
    pub attrs: RouteAttrs,
}

/// What the agent must apply, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentEvent {
    /// A session is up (Hello and the replay are on their way).
    Connected,
    /// The session was lost: keep forwarding with what is known.
    Disconnected {
        /// Why, for logs.
        reason: String,
    },
    /// The server refused the token; the session keeps retrying.
    Rejected {
        /// The server's message.
        message: String,
    },
    /// A new desired-state snapshot for this node.
    Config(proto::NodeConfig),
    /// Install or replace this path.
    RouteAdded(RemoteRoute),
    /// Remove the path of `prefix` via `next_hop`.
    RouteWithdrawn {
        /// VRF name.
        vrf: String,
        /// Destination.
        prefix: Prefix,
        /// Which path.
        next_hop: Ipv4Addr,
    },
    /// The server has sent every current route of `vrf`; stale ones were
    /// withdrawn just before this event.
    VrfSynced {
        /// VRF name.
        vrf: String,
    },
    /// The server rejected a request or sent something unusable.
    ServerError {
        /// What went wrong.
        message: String,
    },
}

/// Identity sent in Hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentIdentity {
    /// Node name as the server knows it.
    pub node_name: String,
    /// Underlay IPv4: the next hop of this node's routes.
    pub underlay_ip: Ipv4Addr,
    /// Encapsulations this node accepts.
    pub encapsulations: Vec<proto::Encapsulation>,
    /// Agent software version.
    pub agent_version: String,
    /// Bumped on each agent process restart.
    pub restart_generation: u64,
}

/// Pure agent protocol state. The driver calls it; it never does I/O.
#[derive(Debug)]
pub struct AgentState {
    identity: AgentIdentity,
    subscriptions: BTreeSet<String>,
    local: BTreeMap<(String, Prefix), RouteAttrs>,
    ports: BTreeMap<String, proto::PortState>,
    /// (vrf, prefix, next hop) → (attrs, stale).
    remote: BTreeMap<(String, Prefix, Ipv4Addr), (RouteAttrs, bool)>,
    /// The agent said its local routes are complete: replays end with
    /// End-of-RIB.
    local_complete: bool,
}

fn message(msg: agent_message::Msg) -> proto::AgentMessage {
    proto::AgentMessage { msg: Some(msg) }
}

fn end_of_rib() -> proto::AgentMessage {
    message(agent_message::Msg::EndOfRib(proto::EndOfRib {
        vrf: String::new(),
    }))
}

fn encaps(list: &[proto::Encapsulation]) -> Vec<i32> {
    list.iter().map(|e| *e as i32).collect()
}

impl AgentState {
    /// Fresh state for `identity`.
    pub fn new(identity: AgentIdentity) -> Self {
        Self {
            identity,
            subscriptions: BTreeSet::new(),
            local: BTreeMap::new(),
            ports: BTreeMap::new(),
            remote: BTreeMap::new(),
            local_complete: false,
        }
    }

    /// Everything to send on a new stream: Hello, subscriptions, local
    /// routes, port status, and End-of-RIB once [`AgentState::local_complete`]
    /// was called (a freshly started agent has not published yet).
    pub fn on_connected(&self) -> Vec<proto::AgentMessage> {
        let id = &self.identity;
        let mut out = vec![message(agent_message::Msg::Hello(proto::Hello {
            node_name: id.node_name.clone(),
            underlay_ip: id.underlay_ip.to_string(),
            encapsulations: encaps(&id.encapsulations),
            agent_version: id.agent_version.clone(),
            restart_generation: id.restart_generation,
        }))];
        out.extend(self.subscriptions.iter().map(|vrf| {
            message(agent_message::Msg::Subscribe(proto::SubscribeVrf {
                vrf: vrf.clone(),
            }))
        }));
        out.extend(
            self.local
                .iter()
                .map(|((vrf, prefix), attrs)| self.publish_message(vrf, *prefix, attrs)),
        );
        out.extend(self.ports.iter().map(|(port_id, state)| {
            message(agent_message::Msg::PortStatus(proto::PortStatus {
                port_id: port_id.clone(),
                state: *state as i32,
            }))
        }));
        if self.local_complete {
            out.push(end_of_rib());
        }
        out
    }

    /// The agent has published every local route it has: from now on
    /// each replay ends with End-of-RIB. Returns the End-of-RIB to send now.
    pub fn local_complete(&mut self) -> proto::AgentMessage {
        self.local_complete = true;
        end_of_rib()
    }

    /// The stream is gone: every remote route becomes stale (kept, and
    /// still forwarded on, until the next End-of-RIB of its VRF).
    pub fn on_disconnected(&mut self) {
        for entry in self.remote.values_mut() {
            entry.1 = true;
        }
    }

    /// Records a subscription; returns the message to send if connected.
    pub fn subscribe(&mut self, vrf: String) -> proto::AgentMessage {
        self.subscriptions.insert(vrf.clone());
        message(agent_message::Msg::Subscribe(proto::SubscribeVrf { vrf }))
    }

    /// Drops a subscription and the remote routes of `vrf`.
    pub fn unsubscribe(&mut self, vrf: String) -> (proto::AgentMessage, Vec<AgentEvent>) {
        self.subscriptions.remove(&vrf);
        let gone: Vec<_> = self
            .remote
            .keys()
            .filter(|(v, _, _)| *v == vrf)
            .cloned()
            .collect();
        let events = gone
            .into_iter()
            .map(|key| {
                self.remote.remove(&key);
                AgentEvent::RouteWithdrawn {
                    vrf: key.0,
                    prefix: key.1,
                    next_hop: key.2,
                }
            })
            .collect();
        let msg = message(agent_message::Msg::Unsubscribe(proto::UnsubscribeVrf {
            vrf,
        }));
        (msg, events)
    }

    /// Records a local route; returns the message to send if connected.
    pub fn publish(&mut self, route: LocalRoute) -> proto::AgentMessage {
        let msg = self.publish_message(&route.vrf, route.prefix, &route.attrs);
        self.local.insert((route.vrf, route.prefix), route.attrs);
        msg
    }

    /// Forgets a local route; returns the message to send if connected.
    pub fn withdraw(&mut self, vrf: String, prefix: Prefix) -> proto::AgentMessage {
        self.local.remove(&(vrf.clone(), prefix));
        message(agent_message::Msg::Withdraw(proto::WithdrawRoute {
            vrf,
            prefix: prefix.to_string(),
        }))
    }

    /// Records a port's state; returns the message to send if connected.
    pub fn port_status(&mut self, port_id: String, state: proto::PortState) -> proto::AgentMessage {
        self.ports.insert(port_id.clone(), state);
        message(agent_message::Msg::PortStatus(proto::PortStatus {
            port_id,
            state: state as i32,
        }))
    }

    /// Applies one server message; returns what the agent must apply.
    pub fn on_server_message(&mut self, msg: proto::ServerMessage) -> Vec<AgentEvent> {
        let Some(msg) = msg.msg else {
            return Vec::new();
        };
        match msg {
            server_message::Msg::Config(config) => vec![AgentEvent::Config(config)],
            server_message::Msg::RouteAdd(add) => self.route_add(add),
            server_message::Msg::RouteWithdraw(w) => {
                match (Prefix::parse_strict(&w.prefix), w.next_hop.parse()) {
                    (Ok(prefix), Ok(next_hop)) => {
                        match self.remote.remove(&(w.vrf.clone(), prefix, next_hop)) {
                            Some(_) => vec![AgentEvent::RouteWithdrawn {
                                vrf: w.vrf,
                                prefix,
                                next_hop,
                            }],
                            None => Vec::new(),
                        }
                    }
                    _ => vec![bad_route(&w.vrf, &w.prefix, &w.next_hop)],
                }
            }
            server_message::Msg::EndOfRib(eor) => self.end_of_rib(eor.vrf),
            server_message::Msg::Error(e) => vec![AgentEvent::ServerError { message: e.message }],
        }
    }

    /// The remote routes currently known, stale or not.
    pub fn remote_routes(&self) -> Vec<RemoteRoute> {
        self.remote
            .iter()
            .map(|((vrf, prefix, next_hop), (attrs, _))| RemoteRoute {
                vrf: vrf.clone(),
                prefix: *prefix,
                next_hop: *next_hop,
                attrs: attrs.clone(),
            })
            .collect()
    }

    fn publish_message(
        &self,
        vrf: &str,
        prefix: Prefix,
        attrs: &RouteAttrs,
    ) -> proto::AgentMessage {
        message(agent_message::Msg::Publish(proto::PublishRoute {
            vrf: vrf.to_owned(),
            prefix: prefix.to_string(),
            label: attrs.label,
            vni: attrs.vni,
            encapsulations: encaps(&attrs.encapsulations),
            sg_ids: attrs.sg_ids.clone(),
            next_hop: self.identity.underlay_ip.to_string(),
        }))
    }

    fn route_add(&mut self, add: proto::RouteAdd) -> Vec<AgentEvent> {
        let (Ok(prefix), Ok(next_hop)) = (Prefix::parse_strict(&add.prefix), add.next_hop.parse())
        else {
            return vec![bad_route(&add.vrf, &add.prefix, &add.next_hop)];
        };
        let attrs = RouteAttrs {
            label: add.label,
            vni: add.vni,
            encapsulations: add.encapsulations().collect(),
            sg_ids: add.sg_ids,
        };
        let key = (add.vrf, prefix, next_hop);
        let previous = self.remote.insert(key.clone(), (attrs.clone(), false));
        if previous.is_some_and(|(old, _)| old == attrs) {
            // A refresh after reconnect: the agent already has it.
            return Vec::new();
        }
        vec![AgentEvent::RouteAdded(RemoteRoute {
            vrf: key.0,
            prefix,
            next_hop,
            attrs,
        })]
    }

    fn end_of_rib(&mut self, vrf: String) -> Vec<AgentEvent> {
        let stale: Vec<_> = self
            .remote
            .iter()
            .filter(|((v, _, _), (_, stale))| *v == vrf && *stale)
            .map(|(key, _)| key.clone())
            .collect();
        let mut events: Vec<AgentEvent> = stale
            .into_iter()
            .map(|key| {
                self.remote.remove(&key);
                AgentEvent::RouteWithdrawn {
                    vrf: key.0,
                    prefix: key.1,
                    next_hop: key.2,
                }
            })
            .collect();
        events.push(AgentEvent::VrfSynced { vrf });
        events
    }
}

fn bad_route(vrf: &str, prefix: &str, next_hop: &str) -> AgentEvent {
    AgentEvent::ServerError {
        message: format!(
            "route in {vrf:?} has an unusable prefix {prefix:?} or next hop {next_hop:?}"
        ),
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
