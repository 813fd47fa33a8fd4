//! Resource commands: each builds a request, calls the API, prints the answer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;

use anyhow::{Context, bail};
use uuid::Uuid;
use weft_api::client::Client;
use weft_api::{
    ControlNodes, Domains, ListQuery, LoadBalancers, Nodes, Ports, Projects, SecurityGroupRules,
    SecurityGroups, Subnets, VirtualNetworks,
};
use weft_model::{
    AddressPair, AllocationPool, CreateControlNode, CreateDomain, CreateLoadBalancer,
    CreateNetwork, CreateNode, CreatePort, CreateProject, CreateSecurityGroup,
    CreateSecurityGroupRule, CreateSubnet, Direction, Encapsulation, Ethertype, FixedIpRequest,
    ForwardingMode, LbBackend, LbProtocol, Listener, Port, Ref, SecurityGroupRule, Subnet,
    UpdateGlobalConfig, UpdateLoadBalancer, UpdateNetwork, UpdatePort, UpdateSecurityGroup,
    VifType,
};
use weft_types::{Asn, FqName, MacAddr, Prefix, RouteTarget, Vni};

use crate::args::{
    Command, ControlNodeCmd, DomainCmd, Format, GlobalCmd, LbCmd, NodeCmd, PortCmd, ProjectCmd,
    RuleCmd, SgCmd, SubnetCmd, VnCmd,
};
use crate::output;

fn reference(text: &str, what: &str) -> anyhow::Result<Ref> {
    Ref::from_str(text).with_context(|| format!("'{text}' is not a {what} UUID or FQ name"))
}

fn fq_name(text: &str) -> anyhow::Result<FqName> {
    FqName::from_str(text).with_context(|| format!("'{text}' is not an FQ name"))
}

/// A JSON-encoded enum value from its text form (`ingress`, `l2_l3`, `IPv6`…).
fn parse_enum<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
    choices: &str,
) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .with_context(|| format!("'{text}' is not a {what} (one of {choices})"))
}

pub(crate) async fn run(server: &str, format: Format, command: Command) -> anyhow::Result<()> {
    let client = Client::new(server)?;
    match command {
        Command::Server(_)
        | Command::Agent(_)
        | Command::Vif(_)
        | Command::Rt(_)
        | Command::Nh(_)
        | Command::Flow(_)
        | Command::Dropstats(_)
        | Command::Lab(_)
        | Command::Vm(_) => not_a_resource(),
        Command::Domain(cmd) => domain(&client, format, cmd).await,
        Command::Project(cmd) => project(&client, format, cmd).await,
        Command::Vn(cmd) => vn(&client, format, cmd).await,
        Command::Subnet(cmd) => subnet(&client, format, cmd).await,
        Command::Port(cmd) => port(&client, format, cmd).await,
        Command::Sg(cmd) => sg(&client, format, cmd).await,
        Command::Lb(cmd) => lb(&client, format, cmd).await,
        Command::Node(cmd) => node(&client, format, cmd).await,
        Command::ControlNode(cmd) => control_node(&client, format, cmd).await,
        Command::Global(cmd) => global(&client, format, cmd).await,
    }
}

fn not_a_resource() -> anyhow::Result<()> {
    bail!("server and introspection commands are handled before resource commands")
}

async fn domain(client: &Client, format: Format, cmd: DomainCmd) -> anyhow::Result<()> {
    match cmd {
        DomainCmd::Create { name, description } => {
            let req = CreateDomain {
                fq_name: fq_name(&name)?,
                id: None,
                description,
                tags: Vec::new(),
            };
            output::show(format, &client.create::<Domains>(&req).await?);
        }
        DomainCmd::List => {
            let domains = client.list::<Domains>(&ListQuery::default()).await?;
            let rows = domains
                .iter()
                .map(|d| vec![d.meta.id.to_string(), d.fq_name.to_string()])
                .collect();
            output::list(format, &domains, &["ID", "FQ NAME"], rows);
        }
        DomainCmd::Show { domain } => output::show(format, &client.get::<Domains>(&domain).await?),
        DomainCmd::Delete { domain } => {
            let gone = client.delete::<Domains>(&domain).await?;
            deleted(format, "domain", &gone.fq_name.to_string(), &gone);
        }
    }
    Ok(())
}

async fn project(client: &Client, format: Format, cmd: ProjectCmd) -> anyhow::Result<()> {
    match cmd {
        ProjectCmd::Create {
            fq_name: name,
            description,
        } => {
            let req = CreateProject {
                fq_name: fq_name(&name)?,
                id: None,
                description,
                tags: Vec::new(),
                external_id: None,
            };
            output::show(format, &client.create::<Projects>(&req).await?);
        }
        ProjectCmd::List => {
            let projects = client.list::<Projects>(&ListQuery::default()).await?;
            let rows = projects
                .iter()
                .map(|p| vec![p.meta.id.to_string(), p.fq_name.to_string()])
                .collect();
            output::list(format, &projects, &["ID", "FQ NAME"], rows);
        }
        ProjectCmd::Show { project } => {
            output::show(format, &client.get::<Projects>(&project).await?)
        }
        ProjectCmd::Delete { project } => {
            let gone = client.delete::<Projects>(&project).await?;
            deleted(format, "project", &gone.fq_name.to_string(), &gone);
        }
    }
    Ok(())
}

fn deleted<T: serde::Serialize>(format: Format, kind: &str, name: &str, object: &T) {
    match format {
        Format::Json => output::json(object),
        Format::Table => output::list(
            format,
            &[()],
            &["DELETED", "NAME"],
            vec![vec![kind.into(), name.into()]],
        ),
    }
}

async fn vn(client: &Client, format: Format, cmd: VnCmd) -> anyhow::Result<()> {
    match cmd {
        VnCmd::Create {
            fq_name: name,
            subnets,
            vni,
            route_targets,
            forwarding_mode,
            shared,
            fabric_snat,
            mtu,
        } => {
            let subnets = subnets
                .iter()
                .map(|c| Prefix::parse_strict(c).map(CreateSubnet::with_cidr))
                .collect::<Result<Vec<_>, _>>()
                .context("--subnet")?;
            let route_targets = route_targets
                .iter()
                .map(|t| RouteTarget::from_str(t))
                .collect::<Result<Vec<_>, _>>()
                .context("--route-target")?;
            let req = CreateNetwork {
                fq_name: fq_name(&name)?,
                id: None,
                description: String::new(),
                tags: Vec::new(),
                subnets,
                vxlan_id: vni.map(Vni::new).transpose().context("--vni")?,
                route_targets: (!route_targets.is_empty()).then_some(route_targets),
                forwarding_mode: forwarding_mode
                    .map(|m| parse_enum::<ForwardingMode>(&m, "forwarding mode", "l2, l3, l2_l3"))
                    .transpose()?,
                shared,
                admin_state_up: None,
                fabric_snat,
                mtu,
            };
            let network = client.create::<VirtualNetworks>(&req).await?;
            match format {
                Format::Json => output::json(&network),
                Format::Table => print_networks(client, format, vec![network]).await?,
            }
        }
        VnCmd::Update {
            vn,
            fabric_snat,
            mtu,
        } => {
            let req = UpdateNetwork {
                fabric_snat,
                mtu: mtu.map(|m| (m != 0).then_some(m)),
                ..UpdateNetwork::default()
            };
            let network = client.update::<VirtualNetworks>(&vn, &req).await?;
            match format {
                Format::Json => output::json(&network),
                Format::Table => print_networks(client, format, vec![network]).await?,
            }
        }
        VnCmd::List { project } => {
            let query = ListQuery {
                project: project.map(|p| reference(&p, "project")).transpose()?,
                ..ListQuery::default()
            };
            let networks = client.list::<VirtualNetworks>(&query).await?;
            print_networks(client, format, networks).await?;
        }
        VnCmd::Show { vn } => output::show(format, &client.get::<VirtualNetworks>(&vn).await?),
        VnCmd::Delete { vn } => {
            let gone = client.delete::<VirtualNetworks>(&vn).await?;
            deleted(format, "virtual-network", &gone.fq_name.to_string(), &gone);
        }
    }
    Ok(())
}

async fn print_networks(
    client: &Client,
    format: Format,
    networks: Vec<weft_model::VirtualNetwork>,
) -> anyhow::Result<()> {
    let subnets = client.list::<Subnets>(&ListQuery::default()).await?;
    let rows = networks
        .iter()
        .map(|n| {
            let cidrs: Vec<String> = subnets
                .iter()
                .filter(|s| s.network_id == n.meta.id)
                .map(|s| s.cidr.to_string())
                .collect();
            let targets: Vec<String> = n.route_targets.iter().map(ToString::to_string).collect();
            vec![
                n.meta.id.to_string(),
                n.fq_name.to_string(),
                n.vn_id.to_string(),
                n.vxlan_id.to_string(),
                cidrs.join(", "),
                targets.join(", "),
            ]
        })
        .collect();
    output::list(
        format,
        &networks,
        &["ID", "FQ NAME", "VN ID", "VNI", "SUBNETS", "ROUTE TARGETS"],
        rows,
    );
    Ok(())
}

fn pool(text: &str) -> anyhow::Result<AllocationPool> {
    let (start, end) = text
        .split_once('-')
        .with_context(|| format!("pool '{text}' is not START-END"))?;
    let start: IpAddr = start
        .trim()
        .parse()
        .with_context(|| format!("pool '{text}': bad start"))?;
    let end: IpAddr = end
        .trim()
        .parse()
        .with_context(|| format!("pool '{text}': bad end"))?;
    Ok(AllocationPool { start, end })
}

async fn subnet(client: &Client, format: Format, cmd: SubnetCmd) -> anyhow::Result<()> {
    match cmd {
        SubnetCmd::Create {
            vn,
            cidr,
            name,
            gateway,
            pools,
            dns_nameservers,
            no_dhcp,
        } => {
            let mut req = CreateSubnet::with_cidr(Prefix::parse_strict(&cidr).context("CIDR")?);
            req.network = Some(reference(&vn, "virtual network")?);
            req.name = name;
            req.gateway_ip = match gateway.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(ip) => Some(Some(ip.parse().with_context(|| format!("gateway '{ip}'"))?)),
            };
            if !pools.is_empty() {
                req.allocation_pools =
                    Some(pools.iter().map(|p| pool(p)).collect::<Result<_, _>>()?);
            }
            req.dns_nameservers = dns_nameservers;
            req.enable_dhcp = no_dhcp.then_some(false);
            let subnet = client.create::<Subnets>(&req).await?;
            print_subnets(format, &[subnet]);
        }
        SubnetCmd::List { vn } => {
            let query = ListQuery {
                network: vn.map(|v| reference(&v, "virtual network")).transpose()?,
                ..ListQuery::default()
            };
            print_subnets(format, &client.list::<Subnets>(&query).await?);
        }
        SubnetCmd::Show { subnet } => output::show(format, &client.get::<Subnets>(&subnet).await?),
        SubnetCmd::Delete { subnet } => {
            let gone = client.delete::<Subnets>(&subnet).await?;
            deleted(format, "subnet", &gone.cidr.to_string(), &gone);
        }
    }
    Ok(())
}

fn print_subnets(format: Format, subnets: &[Subnet]) {
    let addr = |ip: Option<IpAddr>| ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    let rows = subnets
        .iter()
        .map(|s| {
            let pools: Vec<String> = s
                .allocation_pools
                .iter()
                .map(|p| format!("{}-{}", p.start, p.end))
                .collect();
            vec![
                s.meta.id.to_string(),
                s.network_id.to_string(),
                s.cidr.to_string(),
                addr(s.gateway_ip),
                addr(s.dns_service_ip),
                pools.join(", "),
            ]
        })
        .collect();
    output::list(
        format,
        subnets,
        &["ID", "NETWORK", "CIDR", "GATEWAY", "SERVICE", "POOLS"],
        rows,
    );
}

async fn port(client: &Client, format: Format, cmd: PortCmd) -> anyhow::Result<()> {
    match cmd {
        PortCmd::Create {
            vn,
            name,
            project,
            ips,
            mac,
            security_groups,
            no_security_groups,
            no_port_security,
            host,
            vif_type,
            device_owner,
            device_id,
        } => {
            let mut req = CreatePort::on(reference(&vn, "virtual network")?);
            req.name = name;
            req.project = project.map(|p| reference(&p, "project")).transpose()?;
            if !ips.is_empty() {
                req.fixed_ips = Some(
                    ips.into_iter()
                        .map(|ip| FixedIpRequest {
                            subnet_id: None,
                            ip_address: Some(ip),
                        })
                        .collect(),
                );
            }
            req.mac_address = mac
                .map(|m| MacAddr::from_str(&m).with_context(|| format!("--mac '{m}'")))
                .transpose()?;
            req.security_groups = groups(&security_groups, no_security_groups)?;
            req.port_security_enabled = no_port_security.then_some(false);
            req.binding_host_id = host;
            req.vif_type = vif_type
                .map(|v| parse_enum::<VifType>(&v, "vif type", "tap, veth"))
                .transpose()?;
            req.device_owner = device_owner;
            req.device_id = device_id;
            let port = client.create::<Ports>(&req).await?;
            print_ports(client, format, vec![port]).await?;
        }
        PortCmd::List { vn, project, host } => {
            let query = ListQuery {
                network: vn.map(|v| reference(&v, "virtual network")).transpose()?,
                project: project.map(|p| reference(&p, "project")).transpose()?,
                binding_host_id: host,
                ..ListQuery::default()
            };
            let ports = client.list::<Ports>(&query).await?;
            print_ports(client, format, ports).await?;
        }
        PortCmd::Show { port } => output::show(format, &client.get::<Ports>(&port).await?),
        PortCmd::Update {
            port,
            security_groups,
            no_security_groups,
            host,
            name,
            allowed_address_pairs,
            no_allowed_address_pairs,
        } => {
            let pairs = if no_allowed_address_pairs {
                Some(Vec::new())
            } else if allowed_address_pairs.is_empty() {
                None
            } else {
                Some(
                    allowed_address_pairs
                        .iter()
                        .map(|pair| address_pair(pair))
                        .collect::<anyhow::Result<Vec<_>>>()?,
                )
            };
            let req = UpdatePort {
                security_groups: groups(&security_groups, no_security_groups)?,
                binding_host_id: host.map(Some),
                name,
                allowed_address_pairs: pairs,
                ..UpdatePort::default()
            };
            let updated = client.update::<Ports>(&port, &req).await?;
            print_ports(client, format, vec![updated]).await?;
        }
        PortCmd::Delete { port } => {
            let gone = client.delete::<Ports>(&port).await?;
            deleted(format, "port", &gone.meta.id.to_string(), &gone);
        }
    }
    Ok(())
}

/// `IP[/LEN][,MAC]`; the server checks the address itself.
fn address_pair(text: &str) -> anyhow::Result<AddressPair> {
    let (ip, mac) = match text.split_once(',') {
        Some((ip, mac)) => (ip, Some(mac)),
        None => (text, None),
    };
    let mac_address = mac
        .map(|m| {
            MacAddr::from_str(m.trim())
                .with_context(|| format!("--allowed-address-pair '{text}': MAC '{m}'"))
        })
        .transpose()?;
    Ok(AddressPair {
        ip_address: ip.trim().to_owned(),
        mac_address,
    })
}

/// `--sg` values, or an explicit empty list, or "leave the default".
fn groups(names: &[String], none: bool) -> anyhow::Result<Option<Vec<Ref>>> {
    if none {
        return Ok(Some(Vec::new()));
    }
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|g| reference(g, "security group"))
        .collect::<Result<_, _>>()
        .map(Some)
}

async fn print_ports(client: &Client, format: Format, ports: Vec<Port>) -> anyhow::Result<()> {
    if format == Format::Json {
        if ports.len() == 1 {
            output::json(&ports[0]);
        } else {
            output::json(&ports);
        }
        return Ok(());
    }
    let networks: HashMap<Uuid, String> = client
        .list::<VirtualNetworks>(&ListQuery::default())
        .await?
        .into_iter()
        .map(|n| (n.meta.id, n.fq_name.to_string()))
        .collect();
    let projects: HashMap<Uuid, String> = client
        .list::<Projects>(&ListQuery::default())
        .await?
        .into_iter()
        .map(|p| (p.meta.id, p.fq_name.to_string()))
        .collect();
    let rows = ports
        .iter()
        .map(|p| {
            let ips: Vec<String> = p
                .fixed_ips
                .iter()
                .map(|f| f.ip_address.to_string())
                .collect();
            vec![
                p.meta.id.to_string(),
                p.name.clone(),
                networks
                    .get(&p.network_id)
                    .cloned()
                    .unwrap_or_else(|| p.network_id.to_string()),
                projects
                    .get(&p.project_id)
                    .cloned()
                    .unwrap_or_else(|| p.project_id.to_string()),
                p.mac_address.to_string(),
                ips.join(", "),
                p.binding_host_id.clone().unwrap_or_default(),
                format!("{:?}", p.status).to_uppercase(),
            ]
        })
        .collect();
    output::list(
        format,
        &ports,
        &[
            "ID",
            "NAME",
            "NETWORK",
            "PROJECT",
            "MAC",
            "FIXED IPS",
            "HOST",
            "STATUS",
        ],
        rows,
    );
    Ok(())
}

async fn sg(client: &Client, format: Format, cmd: SgCmd) -> anyhow::Result<()> {
    match cmd {
        SgCmd::Create {
            fq_name: name,
            description,
            stateless,
        } => {
            let req = CreateSecurityGroup {
                fq_name: fq_name(&name)?,
                id: None,
                description,
                tags: Vec::new(),
                stateful: Some(!stateless),
            };
            output::show(format, &client.create::<SecurityGroups>(&req).await?);
        }
        SgCmd::Update {
            sg,
            description,
            stateful,
        } => {
            let req = UpdateSecurityGroup {
                description,
                stateful,
                ..UpdateSecurityGroup::default()
            };
            output::show(format, &client.update::<SecurityGroups>(&sg, &req).await?);
        }
        SgCmd::List { project } => {
            let query = ListQuery {
                project: project.map(|p| reference(&p, "project")).transpose()?,
                ..ListQuery::default()
            };
            let groups = client.list::<SecurityGroups>(&query).await?;
            let rows = groups
                .iter()
                .map(|g| {
                    vec![
                        g.meta.id.to_string(),
                        g.fq_name.to_string(),
                        g.sg_id.to_string(),
                        if g.stateful { "stateful" } else { "stateless" }.to_owned(),
                    ]
                })
                .collect();
            output::list(format, &groups, &["ID", "FQ NAME", "SG ID", "STATE"], rows);
        }
        SgCmd::Show { sg } => output::show(format, &client.get::<SecurityGroups>(&sg).await?),
        SgCmd::Delete { sg } => {
            let gone = client.delete::<SecurityGroups>(&sg).await?;
            deleted(format, "security-group", &gone.fq_name.to_string(), &gone);
        }
        SgCmd::Rule(cmd) => rule(client, format, cmd).await?,
    }
    Ok(())
}

/// `tcp:80=192.168.1.3:8080,192.168.1.5:8080` → a listener.
fn listener(text: &str) -> anyhow::Result<Listener> {
    let bad =
        |why: &str| anyhow::anyhow!("listener '{text}': {why} (expected PROTO:PORT[=ADDR:PORT,…])");
    let (front, backends) = text.split_once('=').unwrap_or((text, ""));
    let (protocol, port) = front.split_once(':').ok_or_else(|| bad("no PROTO:PORT"))?;
    let protocol: LbProtocol = parse_enum(protocol, "protocol", "tcp, udp")?;
    let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
    let backends = backends
        .split(',')
        .filter(|b| !b.is_empty())
        .map(|b| {
            let addr: std::net::SocketAddr = b
                .parse()
                .map_err(|_| bad(&format!("backend '{b}' is not ADDR:PORT")))?;
            Ok(LbBackend {
                address: addr.ip(),
                port: addr.port(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Listener {
        protocol,
        port,
        backends,
    })
}

fn listeners_text(listeners: &[Listener]) -> String {
    let shown: Vec<String> = listeners
        .iter()
        .map(|l| {
            let backends: Vec<String> = l
                .backends
                .iter()
                .map(|b| std::net::SocketAddr::new(b.address, b.port).to_string())
                .collect();
            let protocol = match l.protocol {
                LbProtocol::Tcp => "tcp",
                LbProtocol::Udp => "udp",
            };
            format!("{protocol}:{}={}", l.port, backends.join(","))
        })
        .collect();
    shown.join(" ")
}

async fn lb(client: &Client, format: Format, cmd: LbCmd) -> anyhow::Result<()> {
    match cmd {
        LbCmd::Create {
            fq_name: name,
            vip_port,
            client_networks,
            listeners,
        } => {
            let req = CreateLoadBalancer {
                fq_name: fq_name(&name)?,
                vip_port: reference(&vip_port, "port")?,
                client_networks: client_networks
                    .iter()
                    .map(|n| reference(n, "virtual network"))
                    .collect::<anyhow::Result<_>>()?,
                listeners: listeners
                    .iter()
                    .map(|l| listener(l))
                    .collect::<anyhow::Result<_>>()?,
                id: None,
                description: String::new(),
                tags: Vec::new(),
            };
            output::show(format, &client.create::<LoadBalancers>(&req).await?);
        }
        LbCmd::Update {
            lb,
            listeners,
            no_listeners,
            client_networks,
        } => {
            let req = UpdateLoadBalancer {
                listeners: if no_listeners {
                    Some(Vec::new())
                } else if listeners.is_empty() {
                    None
                } else {
                    Some(
                        listeners
                            .iter()
                            .map(|l| listener(l))
                            .collect::<anyhow::Result<_>>()?,
                    )
                },
                client_networks: if client_networks.is_empty() {
                    None
                } else {
                    Some(
                        client_networks
                            .iter()
                            .map(|n| reference(n, "virtual network"))
                            .collect::<anyhow::Result<_>>()?,
                    )
                },
                description: None,
                tags: None,
            };
            output::show(format, &client.update::<LoadBalancers>(&lb, &req).await?);
        }
        LbCmd::List { project, network } => {
            let query = ListQuery {
                project: project.map(|p| reference(&p, "project")).transpose()?,
                network: network
                    .map(|n| reference(&n, "virtual network"))
                    .transpose()?,
                ..ListQuery::default()
            };
            let lbs = client.list::<LoadBalancers>(&query).await?;
            let rows = lbs
                .iter()
                .map(|lb| {
                    vec![
                        lb.meta.id.to_string(),
                        lb.fq_name.to_string(),
                        lb.vip_address.to_string(),
                        listeners_text(&lb.listeners),
                    ]
                })
                .collect();
            output::list(
                format,
                &lbs,
                &["ID", "FQ NAME", "ADDRESS", "LISTENERS"],
                rows,
            );
        }
        LbCmd::Show { lb } => output::show(format, &client.get::<LoadBalancers>(&lb).await?),
        LbCmd::Delete { lb } => {
            let gone = client.delete::<LoadBalancers>(&lb).await?;
            deleted(format, "load-balancer", &gone.fq_name.to_string(), &gone);
        }
    }
    Ok(())
}

async fn rule(client: &Client, format: Format, cmd: RuleCmd) -> anyhow::Result<()> {
    match cmd {
        RuleCmd::Add {
            sg,
            direction,
            ethertype,
            protocol,
            port,
            remote_ip,
            remote_group,
        } => {
            let (port_range_min, port_range_max) = match port.as_deref() {
                None => (None, None),
                Some(text) => {
                    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
                    let parse = |p: &str| {
                        p.trim()
                            .parse::<u16>()
                            .with_context(|| format!("--port '{text}'"))
                    };
                    (Some(parse(lo)?), Some(parse(hi)?))
                }
            };
            let req = CreateSecurityGroupRule {
                security_group: reference(&sg, "security group")?,
                id: None,
                direction: parse_enum::<Direction>(&direction, "direction", "ingress, egress")?,
                ethertype: ethertype
                    .map(|e| parse_enum::<Ethertype>(&e, "ethertype", "IPv4, IPv6"))
                    .transpose()?,
                protocol,
                port_range_min,
                port_range_max,
                remote_ip_prefix: remote_ip,
                remote_group: remote_group
                    .map(|g| reference(&g, "security group"))
                    .transpose()?,
                description: String::new(),
            };
            let created = client.create::<SecurityGroupRules>(&req).await?;
            print_rules(client, format, vec![created]).await?;
        }
        RuleCmd::List { sg } => {
            let query = ListQuery {
                security_group: Some(reference(&sg, "security group")?),
                ..ListQuery::default()
            };
            let rules = client.list::<SecurityGroupRules>(&query).await?;
            print_rules(client, format, rules).await?;
        }
        RuleCmd::Delete { rule } => {
            let gone = client.delete::<SecurityGroupRules>(&rule).await?;
            deleted(
                format,
                "security-group-rule",
                &gone.meta.id.to_string(),
                &gone,
            );
        }
    }
    Ok(())
}

async fn print_rules(
    client: &Client,
    format: Format,
    rules: Vec<SecurityGroupRule>,
) -> anyhow::Result<()> {
    let groups: HashMap<Uuid, String> = client
        .list::<SecurityGroups>(&ListQuery::default())
        .await?
        .into_iter()
        .map(|g| (g.meta.id, g.fq_name.to_string()))
        .collect();
    let rows = rules
        .iter()
        .map(|r| {
            let ports = match (r.port_range_min, r.port_range_max) {
                (Some(lo), Some(hi)) if lo == hi => lo.to_string(),
                (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
                (Some(lo), None) => lo.to_string(),
                _ => "any".into(),
            };
            let remote = match (r.remote_ip_prefix, r.remote_group_id) {
                (Some(prefix), _) => prefix.to_string(),
                (None, Some(group)) => format!(
                    "group {}",
                    groups
                        .get(&group)
                        .cloned()
                        .unwrap_or_else(|| group.to_string())
                ),
                (None, None) => "any".into(),
            };
            vec![
                r.meta.id.to_string(),
                groups
                    .get(&r.security_group_id)
                    .cloned()
                    .unwrap_or_default(),
                format!("{:?}", r.direction).to_lowercase(),
                format!("{:?}", r.ethertype),
                r.protocol.clone().unwrap_or_else(|| "any".into()),
                ports,
                remote,
            ]
        })
        .collect();
    output::list(
        format,
        &rules,
        &[
            "ID",
            "GROUP",
            "DIRECTION",
            "ETHERTYPE",
            "PROTOCOL",
            "PORTS",
            "REMOTE",
        ],
        rows,
    );
    Ok(())
}

async fn node(client: &Client, format: Format, cmd: NodeCmd) -> anyhow::Result<()> {
    match cmd {
        NodeCmd::Create { name, underlay } => {
            let req = CreateNode {
                name,
                underlay_ip: underlay,
                id: None,
                description: String::new(),
            };
            output::show(format, &client.create::<Nodes>(&req).await?);
        }
        NodeCmd::List => {
            let nodes = client.list::<Nodes>(&ListQuery::default()).await?;
            let rows = nodes
                .iter()
                .map(|n| {
                    vec![
                        n.meta.id.to_string(),
                        n.name.clone(),
                        n.underlay_ip.to_string(),
                    ]
                })
                .collect();
            output::list(format, &nodes, &["ID", "NAME", "UNDERLAY"], rows);
        }
        NodeCmd::Show { node } => output::show(format, &client.get::<Nodes>(&node).await?),
        NodeCmd::Delete { node } => {
            let gone = client.delete::<Nodes>(&node).await?;
            deleted(format, "node", &gone.name, &gone);
        }
    }
    Ok(())
}

async fn control_node(client: &Client, format: Format, cmd: ControlNodeCmd) -> anyhow::Result<()> {
    match cmd {
        ControlNodeCmd::Create { name, address } => {
            let req = CreateControlNode {
                name,
                address,
                id: None,
                description: String::new(),
            };
            output::show(format, &client.create::<ControlNodes>(&req).await?);
        }
        ControlNodeCmd::List => {
            let nodes = client.list::<ControlNodes>(&ListQuery::default()).await?;
            let rows = nodes
                .iter()
                .map(|n| vec![n.meta.id.to_string(), n.name.clone(), n.address.to_string()])
                .collect();
            output::list(format, &nodes, &["ID", "NAME", "ADDRESS"], rows);
        }
        ControlNodeCmd::Delete { node } => {
            let gone = client.delete::<ControlNodes>(&node).await?;
            deleted(format, "control-node", &gone.name, &gone);
        }
    }
    Ok(())
}

async fn global(client: &Client, format: Format, cmd: GlobalCmd) -> anyhow::Result<()> {
    let config = match cmd {
        GlobalCmd::Show => client.global_config().await?,
        GlobalCmd::Set { asn, encap } => {
            let encapsulation_priority = encap
                .map(|list| {
                    list.split(',')
                        .map(|e| {
                            parse_enum::<Encapsulation>(
                                e.trim(),
                                "encapsulation",
                                "MPLSoUDP, MPLSoGRE, VXLAN",
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            let req = UpdateGlobalConfig {
                asn: asn.map(Asn),
                encapsulation_priority,
            };
            client.update_global_config(&req).await?
        }
    };
    output::show(format, &config);
    Ok(())
}
