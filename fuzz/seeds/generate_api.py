# Seeds for the api_body target (standard library only):
#   python3 fuzz/seeds/generate_api.py
# Each seed is one selector byte (the request type; see decode() in
# fuzz_targets/api_body.rs) followed by a JSON request body that names the
# prepared world's objects (fuzz/src/api.rs), so libFuzzer starts past the
# JSON syntax and the references resolve.
import json
import os

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'api_body')


def uid(n):
    return '00000000-0000-0000-0000-%012x' % n


PROJECT, WEB, NETWORK, V4, V6, RULE, NODE, PORT_A, PORT_B = (
    uid(1), uid(2), uid(3), uid(4), uid(6), uid(7), uid(8), uid(0xa), uid(0xb))
N = 'default-domain:p:n'

# Selector byte -> bodies. Update selectors past 17 address the same object
# by name instead of by id.
SEEDS = {
    0: [  # CreateProject
        {'fq_name': 'q'},
        {'fq_name': 'default-domain:q', 'id': uid(0x100), 'description': 'tenant q',
         'tags': ['a', 'b'], 'external_id': 'keystone-q'},
        {'fq_name': 'p'},
    ],
    1: [{'description': 'project p'}, {'tags': ['x', 'y']}],  # UpdateProject
    2: [  # CreateNetwork
        {'fq_name': 'default-domain:p:m',
         'subnets': [{'cidr': '10.1.0.0/24'}, {'cidr': 'fd01::/64', 'gateway_ip': None}]},
        {'fq_name': 'default-domain:p:m', 'vxlan_id': 5000, 'route_targets': ['target:64512:1'],
         'forwarding_mode': 'l2', 'shared': True, 'admin_state_up': False, 'tags': ['t']},
        {'fq_name': 'default-domain:p:m', 'id': uid(0x200),
         'subnets': [{'cidr': '10.0.0.0/30', 'gateway_ip': '10.0.0.2', 'dns_service_ip': '10.0.0.2',
                      'allocation_pools': [{'start': '10.0.0.1', 'end': '10.0.0.1'}]}]},
    ],
    3: [  # UpdateNetwork
        {'name': 'n2', 'vxlan_id': None, 'route_targets': None},
        {'vxlan_id': 77, 'route_targets': ['target:192.0.2.1:5'], 'forwarding_mode': 'l3',
         'shared': True, 'admin_state_up': False, 'description': 'd', 'tags': ['a']},
    ],
    4: [  # CreateSubnet
        {'network': N, 'cidr': '10.0.1.0/24', 'gateway_ip': '10.0.1.254', 'dns_service_ip': None,
         'allocation_pools': [{'start': '10.0.1.10', 'end': '10.0.1.20'}],
         'host_routes': [{'destination': '0.0.0.0/0', 'nexthop': '10.0.1.254'}],
         'dns_nameservers': ['192.0.2.53'], 'enable_dhcp': False, 'name': 's', 'tags': ['x']},
        {'network': NETWORK, 'id': uid(0x300), 'cidr': 'fd02::/120'},
        {'network': N, 'cidr': '10.0.0.0/30'},
    ],
    5: [  # UpdateSubnet 10.0.0.0/24
        {'gateway_ip': '10.0.0.254',
         'allocation_pools': [{'start': '10.0.0.10', 'end': '10.0.0.200'}]},
        {'gateway_ip': None},
        {'gateway_ip': '10.0.0.3'},
        {'name': 'v4', 'dns_nameservers': ['192.0.2.53', '192.0.2.54'], 'enable_dhcp': False,
         'host_routes': [{'destination': '198.51.100.0/24', 'nexthop': '10.0.0.1'}]},
    ],
    6: [  # UpdateSubnet fd00::/64
        {'gateway_ip': 'fd00::ffff', 'allocation_pools': [{'start': 'fd00::1', 'end': 'fd00::fffe'}],
         'host_routes': [{'destination': '::/0', 'nexthop': 'fd00::1'}]},
        {'allocation_pools': [{'start': 'fd00::2', 'end': 'fd00::10'}, {'start': 'fd00::20', 'end': 'fd00::30'}]},
    ],
    7: [  # CreatePort
        {'network': N, 'fixed_ips': [{'subnet_id': V4, 'ip_address': '10.0.0.50'}, {'subnet_id': V6}],
         'mac_address': '02:00:00:00:00:01', 'security_groups': ['default-domain:p:web'],
         'allowed_address_pairs': [{'ip_address': '10.0.0.0/24', 'mac_address': '02:00:00:00:00:02'}],
         'binding_host_id': 'node-1', 'vif_type': 'veth', 'vnic_type': 'normal',
         'binding_profile': {'pci_slot': '0000:00:01.0', 'weight': 1.5},
         'device_owner': 'compute:nova', 'device_id': 'vm-1', 'name': 'eth0', 'project': 'p'},
        {'network': NETWORK, 'fixed_ips': [{'ip_address': '10.0.0.3'}]},
        {'network': N, 'port_security_enabled': False, 'security_groups': [], 'admin_state_up': False},
        {'network': N, 'id': uid(0x400), 'fixed_ips': [{'ip_address': 'fd00::5'}, {'subnet_id': V4},
                                                       {'subnet_id': V4}]},
    ],
    8: [  # UpdatePort A
        {'fixed_ips': [{'ip_address': '10.0.0.3'}, {'subnet_id': V4}]},
        {'binding_host_id': None},
        {'mac_address': '02:00:00:00:00:09', 'status': 'ACTIVE', 'admin_state_up': False},
        {'binding_host_id': 'node-2', 'vif_type': 'tap', 'binding_profile': {}},
    ],
    9: [  # UpdatePort B
        {'fixed_ips': []},
        {'security_groups': [], 'port_security_enabled': False, 'allowed_address_pairs': []},
        {'name': 'b', 'description': 'd', 'tags': ['x'], 'device_owner': 'network:dhcp',
         'device_id': 'dhcp', 'vnic_type': 'direct'},
    ],
    10: [{'fq_name': 'default-domain:p:db', 'stateful': False, 'tags': ['x'], 'id': uid(0x500)}],
    11: [{'name': 'web2', 'description': 'd', 'tags': ['y']}],  # UpdateSecurityGroup web
    12: [{'name': 'other'}, {'description': 'default'}],  # UpdateSecurityGroup default
    13: [  # CreateSecurityGroupRule
        {'security_group': 'default-domain:p:web', 'direction': 'egress', 'ethertype': 'IPv6',
         'protocol': 'udp', 'port_range_min': 53, 'port_range_max': 53,
         'remote_ip_prefix': 'fd00::1/64', 'description': 'dns'},
        {'security_group': WEB, 'direction': 'ingress', 'protocol': 'icmp', 'port_range_min': 8,
         'remote_group': 'default-domain:p:default'},
        {'security_group': WEB, 'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80,
         'port_range_max': 443},
    ],
    14: [{'name': 'node-2', 'underlay_ip': '192.0.2.2', 'description': 'd'},
         {'name': 'node-2', 'underlay_ip': '192.0.2.1'}],
    15: [{'underlay_ip': '192.0.2.9', 'description': 'moved'}],  # UpdateNode
    16: [{'name': 'ctl-1', 'address': '192.0.2.100', 'id': uid(0x600)}],
    17: [{'asn': 65000, 'encapsulation_priority': ['VXLAN', 'MPLSoUDP']}, {'asn': 0}],
}
# The same updates, addressed by name.
for selector in (1, 3, 11, 15):
    SEEDS[selector + 18] = SEEDS[selector][:1]

# Findings, kept as regression inputs (selector, body as sent).
REGRESSIONS = {
    # A ':' inside a renamed network's or group's last FQ-name component
    # reads back from the store as one more component.
    'bug-fqname-colon-network': (3, b'{"name":"a:b"}'),
    'bug-fqname-colon-group': (11, b'{"name":"a:b"}'),
    # A binding_profile float that serde_json does not read back exactly.
    'bug-float-binding-profile': (
        7, b'{"network":"default-domain:p:n","binding_profile":{"w":1.947700395895162e-169}}'),
}

os.makedirs(root, exist_ok=True)
for selector, bodies in sorted(SEEDS.items()):
    for i, body in enumerate(bodies):
        with open(os.path.join(root, '%02d-%d.bin' % (selector, i)), 'wb') as f:
            f.write(bytes([selector]) + json.dumps(body).encode())
for name, (selector, body) in sorted(REGRESSIONS.items()):
    with open(os.path.join(root, name + '.bin'), 'wb') as f:
        f.write(bytes([selector]) + body)
