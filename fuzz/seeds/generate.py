# Seeds for the fuzz targets, generated once with scapy 2.8.0 (pip install scapy):
#   python3 fuzz/seeds/generate.py
# Each target directory gets real-looking packets (the unit tests' vectors) so
# libFuzzer starts past the magic cookies and checksums.
import os

from scapy.all import *
from scapy.contrib.mpls import MPLS

root = os.path.dirname(os.path.abspath(__file__))
def put(target, name, pkt):
    with open(os.path.join(root, target, name + '.bin'), 'wb') as f:
        f.write(bytes(pkt))
vm, pod = 'fa:16:3e:00:00:03', 'fa:16:3e:00:00:04'
ping = IP(src='192.168.1.4', dst='192.168.1.3', id=0x1c46, flags='DF', ttl=64) / ICMP(type=8, id=0x0b2a, seq=1) / b'weft'
syn = IP(src='192.168.1.4', dst='192.168.1.3') / TCP(sport=40000, dport=22, flags='S', options=[('MSS', 1460), ('SAckOK', b''), ('Timestamp', (1, 0)), ('NOP', None), ('WScale', 7)])
v6ext = IPv6(src='fe80::1', dst='fe80::2') / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(m=1, id=0xdeadbeef) / UDP(sport=1000, dport=2000) / b'x'
ns = IPv6(src='fe80::f816:3eff:fe00:3', dst='ff02::1:ff00:1', hlim=255) / ICMPv6ND_NS(tgt='fd00::1') / ICMPv6NDOptSrcLLAddr(lladdr=vm)
echo6 = IPv6(src='fd00::4', dst='fd00::3') / ICMPv6EchoRequest(id=1, seq=1, data=b'weft')
unreach = IP(src='192.168.1.1', dst='192.168.1.4') / ICMP(type=3, code=3) / bytes(IP(src='192.168.1.4', dst='192.168.1.3') / UDP(sport=5000, dport=9) / b'01234567')[:28]
disc = BOOTP(op=1, xid=0x3903f326, chaddr=mac2str(vm)) / DHCP(options=[('message-type', 'discover'), ('client_id', b'\x01' + mac2str(vm)), ('param_req_list', [1, 3, 6, 15, 26, 121]), ('max_dhcp_size', 1500), 'end'])
offer = BOOTP(op=2, xid=0x3903f326, yiaddr='192.168.1.3', chaddr=mac2str(vm)) / DHCP(options=[('message-type', 'offer'), ('server_id', '192.168.1.2'), ('lease_time', 86400), ('subnet_mask', '255.255.255.0'), ('router', '192.168.1.1'), ('name_server', '192.168.1.2'), ('domain', b'seamless.weft'), ('interface-mtu', 1450), ('classless_static_routes', ['0.0.0.0/0:192.168.1.1', '10.96.0.0/12:192.168.1.1']), 'end'])
outer = dict(src='192.168.200.14', dst='192.168.200.13', ttl=64)
mplsudp = IP(**outer) / UDP(sport=0xc44c, dport=6635) / MPLS(label=17, s=1, ttl=64) / ping
mplsgre = IP(**outer) / GRE(proto=0x8847) / MPLS(label=17, s=1, ttl=64) / ping
mplsgre_full = IP(**outer) / GRE(chksum_present=1, key_present=1, key=7, seqnum_present=1, sequence_number=9, proto=0x8847) / MPLS(label=18, s=1, ttl=64) / syn
vxlan = IP(**outer) / UDP(sport=0xc44c, dport=4789) / VXLAN(vni=5001, flags=0x08) / Ether(dst=vm, src=pod) / ping

eth = lambda p, src=pod, dst=vm: Ether(src=src, dst=dst) / p
for name, p in [('ping', ping), ('syn', syn), ('v6ext', v6ext), ('ns', ns), ('echo6', echo6), ('unreach', unreach)]:
    put('wire_ip', name, p)
    put('wire_frame', name, eth(p))
put('wire_frame', 'arp', Ether(src=vm, dst='ff:ff:ff:ff:ff:ff') / Dot1Q(vlan=100) / ARP(op=1, hwsrc=vm, psrc='192.168.1.3', pdst='192.168.1.1'))
put('wire_frame', 'dhcp', Ether(src=vm, dst='ff:ff:ff:ff:ff:ff') / IP(src='0.0.0.0', dst='255.255.255.255') / UDP(sport=68, dport=67) / disc)
put('wire_frame', 'vxlan', eth(vxlan))
put('wire_frame', 'mplsudp', eth(mplsudp))
put('wire_dhcp', 'discover', disc)
put('wire_dhcp', 'offer', offer)
put('wire_overlay', 'mplsudp', mplsudp)
put('wire_overlay', 'mplsgre', mplsgre)
put('wire_overlay', 'mplsgre_full', mplsgre_full)
put('wire_overlay', 'vxlan', vxlan)
