# A minimal `ping` for the privileged test (the test machines have no ping
# binary): ICMP echo over a raw socket; exit 0 on the first reply.
import os, socket, struct, sys, time

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF

dst, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF
for seq in range(1, count + 1):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"weft"
    s.sendto(struct.pack("!BBHHH", 8, 0, checksum(body), ident, seq) + b"weft", (dst, 0))
    deadline = time.time() + 0.5
    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(1500)
        except socket.timeout:
            break
        ihl = (data[0] & 15) * 4
        kind, _, _, got_id, got_seq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if kind == 0 and got_id == ident and addr[0] == dst:
            print("reply from %s seq %d" % (dst, got_seq))
            sys.exit(0)
sys.exit(1)
