//! The command line.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// One network plane for OpenStack VMs and Kubernetes pods.
#[derive(Debug, Parser)]
#[command(name = "weft", version, propagate_version = true)]
pub struct Cli {
    /// URL of the weft server's native API.
    #[arg(
        long,
        global = true,
        env = "WEFT_SERVER",
        default_value = "http://127.0.0.1:8082"
    )]
    pub server: String,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people.
    Table,
    /// JSON for scripts.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the weft server (native API on the embedded store).
    Server(ServerArgs),
    /// Run the agent (the userspace vRouter) of one node.
    Agent(AgentArgs),
    /// Administrative domains (projects live in one; `default-domain` always exists).
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Projects (tenants).
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Virtual networks.
    #[command(subcommand)]
    Vn(VnCmd),
    /// Subnets of virtual networks.
    #[command(subcommand)]
    Subnet(SubnetCmd),
    /// Ports (workload interfaces).
    #[command(subcommand)]
    Port(PortCmd),
    /// Security groups and their rules.
    #[command(subcommand)]
    Sg(SgCmd),
    /// Load balancers: service addresses spread over backends by the
    /// vRouters (what a Kubernetes Service becomes).
    #[command(subcommand)]
    Lb(LbCmd),
    /// Nodes running `weft agent` (vRouters).
    #[command(subcommand)]
    Node(NodeCmd),
    /// Control nodes.
    #[command(subcommand, name = "control-node")]
    ControlNode(ControlNodeCmd),
    /// Deployment-wide settings (ASN, encapsulation priority).
    #[command(subcommand)]
    Global(GlobalCmd),
    /// The local agent's interfaces (like TF's `vif`).
    Vif(VifArgs),
    /// The local agent's routes of a VRF (like TF's `rt`).
    Rt(RtArgs),
    /// The local agent's next hops (like TF's `nh`).
    Nh(NhArgs),
    /// The local agent's flows (like TF's `flow -l`).
    Flow(FlowArgs),
    /// The local agent's drop counters by reason.
    Dropstats(DropstatsArgs),
    /// The reference topology on this machine, in network namespaces.
    #[command(subcommand)]
    Lab(LabCmd),
    /// VMs on QEMU, with their ports made through the Neutron API as Nova
    /// makes them (for where Nova is absent).
    #[command(subcommand)]
    Vm(Box<VmCmd>),
}

#[derive(Debug, Subcommand)]
pub enum VmCmd {
    /// Create the VM's port through the Neutron API (device_owner
    /// `compute:nova`, bound to --host) and start QEMU (TCG) on the tap
    /// `tap` + the first 11 characters of the port id; QEMU runs on in the
    /// background, its serial console written to a log.
    Boot(VmBootArgs),
    /// The VMs recorded here, like `nova list`: ID, name, status and
    /// `network=address`.
    List(VmListArgs),
    /// Stop the VM's QEMU, delete its port through Neutron, remove its tap
    /// and its record.
    Delete(VmRefArgs),
    /// Print the VM's serial console log.
    Console(VmConsoleArgs),
}

/// Where `weft vm` keeps its records, and how it reaches Neutron: the
/// openstack CLI's settings (an openrc's OS_* variables), Keystone
/// password auth by default, `OS_AUTH_TYPE=none` with an endpoint for
/// Neutron's noauth.
#[derive(Debug, Clone, Args)]
pub struct VmCommon {
    /// Where the VMs' records, pid files and console logs are kept.
    #[arg(long, env = "WEFT_VM_STATE_DIR", default_value = "/run/weft/vms")]
    pub state_dir: PathBuf,
    /// password (Keystone v3, the default) or none.
    #[arg(long, env = "OS_AUTH_TYPE")]
    pub os_auth_type: Option<String>,
    /// Keystone's endpoint (`…/v3`).
    #[arg(long, env = "OS_AUTH_URL")]
    pub os_auth_url: Option<String>,
    #[arg(long, env = "OS_USERNAME")]
    pub os_username: Option<String>,
    #[arg(long, env = "OS_PASSWORD", hide_env_values = true)]
    pub os_password: Option<String>,
    #[arg(long, env = "OS_PROJECT_NAME")]
    pub os_project_name: Option<String>,
    #[arg(long, env = "OS_PROJECT_ID")]
    pub os_project_id: Option<String>,
    #[arg(long, env = "OS_USER_DOMAIN_NAME")]
    pub os_user_domain_name: Option<String>,
    #[arg(long, env = "OS_USER_DOMAIN_ID")]
    pub os_user_domain_id: Option<String>,
    #[arg(long, env = "OS_PROJECT_DOMAIN_NAME")]
    pub os_project_domain_name: Option<String>,
    #[arg(long, env = "OS_PROJECT_DOMAIN_ID")]
    pub os_project_domain_id: Option<String>,
    /// The catalog's region to take the network endpoint from.
    #[arg(long, env = "OS_REGION_NAME")]
    pub os_region_name: Option<String>,
    /// The catalog interface: public, internal or admin.
    #[arg(long, env = "OS_INTERFACE", default_value = "public")]
    pub os_interface: String,
    /// The Neutron endpoint, instead of the catalog's (needed with
    /// OS_AUTH_TYPE=none; OS_ENDPOINT is read too).
    #[arg(long, env = "OS_NETWORK_ENDPOINT_OVERRIDE")]
    pub os_endpoint: Option<String>,
    #[arg(long, env = "OS_ENDPOINT", hide = true)]
    pub os_endpoint_fallback: Option<String>,
}

#[derive(Debug, Args)]
pub struct VmBootArgs {
    /// The VM's name.
    pub name: String,
    /// The network, by name or id.
    #[arg(long)]
    pub net: String,
    /// The compute node whose agent attaches the tap (binding:host_id).
    #[arg(long)]
    pub host: String,
    /// A directory holding `vmlinuz` and `initramfs.cpio.gz`
    /// (scripts/vm-image prints one).
    #[arg(long, env = "WEFT_VM_IMAGE")]
    pub image: Option<PathBuf>,
    /// The network namespace to run QEMU (and so the tap) in.
    #[arg(long)]
    pub netns: Option<String>,
    /// A security group for the port, by name or id (repeatable; default:
    /// the project's `default`).
    #[arg(long = "sg")]
    pub security_groups: Vec<String>,
    /// Memory of the VM in MiB.
    #[arg(long, default_value_t = 256)]
    pub memory: u32,
    /// More kernel command line (the project's image reads `peer=ADDR`
    /// and `linger=SECONDS`).
    #[arg(long, default_value = "")]
    pub kernel_args: String,
    /// The QEMU binary.
    #[arg(long, env = "WEFT_QEMU", default_value = "qemu-system-x86_64")]
    pub qemu: String,
    #[command(flatten)]
    pub common: VmCommon,
}

#[derive(Debug, Args)]
pub struct VmListArgs {
    #[command(flatten)]
    pub common: VmCommon,
}

#[derive(Debug, Args)]
pub struct VmRefArgs {
    /// The VM, by name or id.
    pub vm: String,
    #[command(flatten)]
    pub common: VmCommon,
}

#[derive(Debug, Args)]
pub struct VmConsoleArgs {
    /// The VM, by name or id.
    pub vm: String,
    /// Where the VMs' records are kept.
    #[arg(long, env = "WEFT_VM_STATE_DIR", default_value = "/run/weft/vms")]
    pub state_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum LabCmd {
    /// Build the reference topology (DESIGN.md §2) in network namespaces
    /// and start `weft server` and one `weft agent` per compute node; the
    /// lab stays up for the commands below. Needs root.
    Up(LabUpArgs),
    /// Play a scenario in the lab that is up.
    #[command(subcommand)]
    Scenario(LabScenarioCmd),
    /// Hosts and workloads of the lab, with the processes inside them.
    Status(LabArgs),
    /// Run a command inside a lab host or workload (`cnt-control`,
    /// `os-compute`, `k8s-worker`, `vm`, `cont`, …), with `WEFT_SERVER` and
    /// `WEFT_AGENT` set for the `weft` CLI.
    Exec(LabExecArgs),
    /// Stop the lab's processes and remove its namespaces and state (a
    /// no-op when nothing is up; also cleans up after a crash).
    Down(LabArgs),
    /// `up`, `scenario seed` and `down` in one: the reference scenario from
    /// nothing to nothing, exiting non-zero if a result does not hold.
    Seed(LabUpArgs),
}

#[derive(Debug, Subcommand)]
pub enum LabScenarioCmd {
    /// DESIGN.md §2 as a transcript, with a VM and a pod stand-in or the
    /// real parts of a lab brought up with `--full`; exits non-zero if an
    /// expected result does not hold.
    Seed(LabScenarioArgs),
}

#[derive(Debug, Clone, Args)]
pub struct LabScenarioArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Insist on the real parts (Keystone and the `openstack` CLI, the
    /// QEMU VM, the Kubernetes cluster): refuse if the lab lacks one its
    /// hosts call for. Without it the scenario uses what the lab has.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LabArgs {
    /// Prefix of the lab's namespace names.
    #[arg(long, default_value = "weft-")]
    pub prefix: String,
    /// Where labs keep their state and logs (a directory per lab).
    #[arg(long, default_value = "/run/weft-lab")]
    pub state_dir: std::path::PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct LabUpArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Hosts, roles and settings from an inventory: TF's ansible-deployer
    /// instances.yaml or weft's own format (default: DESIGN.md §2). Keys
    /// the lab does not use are listed, not dropped silently.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<std::path::PathBuf>,
    /// Run the real parts too: a real Keystone on the OpenStack control
    /// host, which the server's Neutron API then checks tokens with; the
    /// VM image QEMU boots; a Kubernetes cluster on the master and worker
    /// hosts (built when missing), with kube-manager in the server and the
    /// weft CNI on the worker, pulling `alpine` from a registry there.
    #[arg(long)]
    pub full: bool,
    /// The project's scripts (scripts/openstack-env, k8s-cluster … for
    /// `--full`); by default those of the checkout weft was built from.
    #[arg(long, env = "WEFT_SCRIPTS", value_name = "DIR")]
    pub scripts: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct LabExecArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// The host or workload.
    pub name: String,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Where the local agent's introspection API is.
#[derive(Debug, Args)]
pub struct AgentUrl {
    #[arg(long, env = "WEFT_AGENT", default_value = "http://127.0.0.1:8085")]
    pub agent: String,
}

#[derive(Debug, Args)]
pub struct VifArgs {
    /// List every interface (the default).
    #[arg(long, conflicts_with = "get")]
    pub list: bool,
    /// One interface by index.
    #[arg(long)]
    pub get: Option<u32>,
    #[command(flatten)]
    pub url: AgentUrl,
}

#[derive(Debug, Args)]
pub struct RtArgs {
    /// Every route of this VRF id.
    #[arg(long)]
    pub dump: Option<u32>,
    /// The route for this prefix (with --vrf).
    #[arg(long)]
    pub get: Option<String>,
    #[arg(long)]
    pub vrf: Option<u32>,
    #[command(flatten)]
    pub url: AgentUrl,
}

#[derive(Debug, Args)]
pub struct NhArgs {
    #[arg(long, conflicts_with = "get")]
    pub list: bool,
    #[arg(long)]
    pub get: Option<u32>,
    #[command(flatten)]
    pub url: AgentUrl,
}

#[derive(Debug, Args)]
pub struct FlowArgs {
    /// List flows (the default).
    #[arg(short = 'l', long)]
    pub list: bool,
    #[command(flatten)]
    pub url: AgentUrl,
}

#[derive(Debug, Args)]
pub struct DropstatsArgs {
    #[command(flatten)]
    pub url: AgentUrl,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Directory of the embedded store.
    #[arg(long, env = "WEFT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Address of the native API.
    #[arg(long, default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,
    /// Also serve the control node (agent sessions, gRPC) on this address.
    #[arg(long, requires = "token")]
    pub control_listen: Option<SocketAddr>,
    /// The cluster token agents must present.
    #[arg(long, env = "WEFT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds a lost agent's routes stay advertised.
    #[arg(long, default_value_t = 30)]
    pub grace_seconds: u64,
    /// Also serve the OpenStack Neutron v2.0 API; without a value on
    /// 127.0.0.1:9696. Needs --keystone-url or --neutron-noauth.
    #[arg(long, num_args = 0..=1, default_missing_value = "127.0.0.1:9696")]
    pub neutron_listen: Option<SocketAddr>,
    /// Also run kube-manager for the Kubernetes cluster this kubeconfig's
    /// current context points at.
    #[arg(long, env = "WEFT_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The cluster's name in weft: projects are `<cluster>-<namespace>`.
    #[arg(long, default_value = "k8s", requires = "kubeconfig")]
    pub cluster_name: String,
    /// Subnet of the cluster's default pod network.
    #[arg(long, default_value = "10.32.0.0/12", requires = "kubeconfig")]
    pub pod_cidr: ipnet::IpNet,
    /// Subnet of the cluster's service network.
    #[arg(long, default_value = "10.96.0.0/12", requires = "kubeconfig")]
    pub service_cidr: ipnet::IpNet,
    /// Development only: no tokens; every Neutron request is admin, in the
    /// project named by X-Project-Id (Neutron's noauth).
    #[arg(long, conflicts_with = "keystone_url")]
    pub neutron_noauth: bool,
    /// Keystone's endpoint (without /v3) for validating Neutron tokens.
    #[arg(long, env = "WEFT_KEYSTONE_URL")]
    pub keystone_url: Option<String>,
    /// The service user weft validates tokens as.
    #[arg(long, env = "WEFT_KEYSTONE_USER", default_value = "neutron")]
    pub keystone_user: String,
    #[arg(long, env = "WEFT_KEYSTONE_PASSWORD", hide_env_values = true)]
    pub keystone_password: Option<String>,
    /// The service user's project.
    #[arg(long, env = "WEFT_KEYSTONE_PROJECT", default_value = "service")]
    pub keystone_project: String,
    /// The Keystone domain of the service user and its project.
    #[arg(long, env = "WEFT_KEYSTONE_DOMAIN", default_value = "Default")]
    pub keystone_domain: String,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// This node's name, as ports name it in binding_host_id.
    #[arg(long)]
    pub node: String,
    /// Underlay address tunnels to this node are sent to.
    #[arg(long)]
    pub underlay: Ipv4Addr,
    /// The control node (`weft server --control-listen`), as http://host:port.
    #[arg(long, env = "WEFT_CONTROL")]
    pub control: String,
    /// The cluster token.
    #[arg(long, env = "WEFT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The node's network namespace (default: the current one).
    #[arg(long)]
    pub netns: Option<String>,
    /// Create this tap for the node's own stack (TF's vhost0): the node
    /// reaches its pods, and VNs with fabric SNAT reach the underlay
    /// through it, masqueraded by the node's kernel (nftables).
    #[arg(long)]
    pub host_interface: Option<String>,
    /// Address of the introspection API (`weft vif`, `rt`, …).
    #[arg(long, default_value = "127.0.0.1:8085")]
    pub introspect: SocketAddr,
    /// Where the agent keeps its labels and CNI records across restarts.
    #[arg(long, default_value = "/var/lib/weft/agent")]
    pub state_dir: PathBuf,
    /// The server's native API (http://host:port), asked for pods' ports
    /// on CNI ADD.
    #[arg(long, env = "WEFT_SERVER")]
    pub api: Option<String>,
    /// The unix socket the `weft-cni` plugin talks to.
    #[arg(long, default_value = weft_api::cni::DEFAULT_CNI_SOCKET)]
    pub cni_socket: PathBuf,
    /// Do not serve the CNI plugin (a node without pods).
    #[arg(long)]
    pub no_cni: bool,
    /// MTU of pod interfaces (default: the underlay interface's less the
    /// largest tunnel overhead, 50).
    #[arg(long)]
    pub cni_mtu: Option<u32>,
    /// Where the plugin spools DELs while the agent is away (default:
    /// STATE_DIR/cni-spool).
    #[arg(long)]
    pub cni_spool: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DomainCmd {
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    Show {
        domain: String,
    },
    Delete {
        domain: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Create a project (`domain:project`, or `project` in default-domain) with its default group.
    Create {
        fq_name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    Show {
        project: String,
    },
    Delete {
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum VnCmd {
    /// Create a virtual network `domain:project:name`.
    Create {
        fq_name: String,
        /// A subnet CIDR (repeatable); gateway .1 and service address .2 by default.
        #[arg(long = "subnet")]
        subnets: Vec<String>,
        /// VXLAN VNI (default: the VN id).
        #[arg(long)]
        vni: Option<u32>,
        /// Route target (repeatable; default target:<ASN>:<8000000 + VN id>).
        #[arg(long = "route-target")]
        route_targets: Vec<String>,
        /// l2, l3 or l2_l3.
        #[arg(long)]
        forwarding_mode: Option<String>,
        #[arg(long)]
        shared: bool,
        /// Workloads reach the fabric through their node, masqueraded to
        /// its underlay address.
        #[arg(long)]
        fabric_snat: bool,
        /// The MTU workloads get, by DHCP (VMs) or on their interface
        /// (pods); default and cap: what fits the overlay.
        #[arg(long)]
        mtu: Option<u32>,
    },
    /// Change a virtual network's settings.
    Update {
        vn: String,
        /// true or false: workloads reach the fabric through their node.
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        fabric_snat: Option<bool>,
        /// The MTU workloads get (DHCP, pods' interfaces); 0: back to what
        /// fits the overlay. Pods already running keep theirs.
        #[arg(long)]
        mtu: Option<u32>,
    },
    List {
        #[arg(long)]
        project: Option<String>,
    },
    Show {
        vn: String,
    },
    Delete {
        vn: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubnetCmd {
    /// Add a subnet to a virtual network.
    Create {
        #[arg(long)]
        vn: String,
        cidr: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Gateway address, or `none`.
        #[arg(long)]
        gateway: Option<String>,
        /// Allocation pool START-END (repeatable).
        #[arg(long = "pool")]
        pools: Vec<String>,
        /// DNS server handed out by DHCP (repeatable).
        #[arg(long = "dns")]
        dns_nameservers: Vec<IpAddr>,
        #[arg(long)]
        no_dhcp: bool,
    },
    List {
        #[arg(long)]
        vn: Option<String>,
    },
    Show {
        subnet: String,
    },
    Delete {
        subnet: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PortCmd {
    /// Create a port on a virtual network.
    Create {
        #[arg(long)]
        vn: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Project owning the port (default: the network's).
        #[arg(long)]
        project: Option<String>,
        /// A fixed address (repeatable).
        #[arg(long = "ip")]
        ips: Vec<IpAddr>,
        #[arg(long)]
        mac: Option<String>,
        /// Security group (repeatable; default: the project's `default`).
        #[arg(long = "sg")]
        security_groups: Vec<String>,
        #[arg(long)]
        no_security_groups: bool,
        #[arg(long)]
        no_port_security: bool,
        /// Node that plugs the port.
        #[arg(long)]
        host: Option<String>,
        /// tap (VMs) or veth (pods).
        #[arg(long)]
        vif_type: Option<String>,
        #[arg(long, default_value = "")]
        device_owner: String,
        #[arg(long, default_value = "")]
        device_id: String,
    },
    List {
        #[arg(long)]
        vn: Option<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        host: Option<String>,
    },
    Show {
        port: String,
    },
    /// Change a port's groups, binding or status.
    Update {
        port: String,
        #[arg(long = "sg")]
        security_groups: Vec<String>,
        #[arg(long)]
        no_security_groups: bool,
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// An address or CIDR the port may also send from, optionally
        /// with a MAC: `IP[/LEN][,MAC]` (repeatable; replaces the list).
        #[arg(
            long = "allowed-address-pair",
            conflicts_with = "no_allowed_address_pairs"
        )]
        allowed_address_pairs: Vec<String>,
        /// Clear the allowed address pairs.
        #[arg(long)]
        no_allowed_address_pairs: bool,
    },
    Delete {
        port: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SgCmd {
    /// Create a security group `domain:project:name` (egress allowed, no ingress).
    Create {
        fq_name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Track nothing: replies pass only if the rules of their own
        /// direction admit them.
        #[arg(long)]
        stateless: bool,
    },
    /// Change a security group (its statefulness only while no port is a member).
    Update {
        sg: String,
        #[arg(long)]
        description: Option<String>,
        /// true: replies of admitted connections pass; false: every packet
        /// needs a rule of its direction.
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        stateful: Option<bool>,
    },
    List {
        #[arg(long)]
        project: Option<String>,
    },
    Show {
        sg: String,
    },
    Delete {
        sg: String,
    },
    /// Rules of a group.
    #[command(subcommand)]
    Rule(RuleCmd),
}

#[derive(Debug, Subcommand)]
pub enum LbCmd {
    /// Create a load balancer `domain:project:name` on the address of a
    /// port (typically an unbound port of a service network).
    Create {
        fq_name: String,
        /// The port whose first fixed IP is the service address.
        #[arg(long)]
        vip_port: String,
        /// A network whose workloads reach the address (repeatable); the
        /// VIP port's own network always does.
        #[arg(long = "client-network")]
        client_networks: Vec<String>,
        /// PROTO:PORT=ADDR:PORT[,ADDR:PORT…], e.g.
        /// `tcp:80=192.168.1.3:8080,192.168.1.5:8080` (repeatable; no `=`:
        /// no backends yet).
        #[arg(long = "listener")]
        listeners: Vec<String>,
    },
    /// Replace the listeners (and their backends) or the client networks.
    Update {
        lb: String,
        #[arg(long = "listener")]
        listeners: Vec<String>,
        /// Remove every listener.
        #[arg(long, conflicts_with = "listeners")]
        no_listeners: bool,
        #[arg(long = "client-network")]
        client_networks: Vec<String>,
    },
    List {
        #[arg(long)]
        project: Option<String>,
        /// Load balancers a network reaches or holds the address of.
        #[arg(long)]
        network: Option<String>,
    },
    Show {
        lb: String,
    },
    Delete {
        lb: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RuleCmd {
    /// Add a rule.
    Add {
        sg: String,
        /// ingress or egress.
        #[arg(long)]
        direction: String,
        /// IPv4 or IPv6 (default from the remote prefix, else IPv4).
        #[arg(long)]
        ethertype: Option<String>,
        /// Protocol name or number.
        #[arg(long)]
        protocol: Option<String>,
        /// Port or MIN-MAX (ICMP: TYPE or TYPE-CODE).
        #[arg(long)]
        port: Option<String>,
        /// Remote CIDR.
        #[arg(long, conflicts_with = "remote_group")]
        remote_ip: Option<String>,
        /// Remote security group.
        #[arg(long)]
        remote_group: Option<String>,
    },
    List {
        sg: String,
    },
    Delete {
        rule: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    Create {
        name: String,
        #[arg(long)]
        underlay: IpAddr,
    },
    List,
    Show {
        node: String,
    },
    Delete {
        node: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ControlNodeCmd {
    Create {
        name: String,
        #[arg(long)]
        address: IpAddr,
    },
    List,
    Delete {
        node: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GlobalCmd {
    Show,
    Set {
        #[arg(long)]
        asn: Option<u32>,
        /// Comma-separated, e.g. MPLSoUDP,MPLSoGRE,VXLAN.
        #[arg(long)]
        encap: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
