#!/usr/bin/env python3
"""The measuring half of bench/pods/run (Python standard library only).

  driver.py burst  --server URL --ca F --cert F --key F --cni-log F --plugin NAME
                   --run-id ID --pods N --image REF --timeout S --out FILE
      Opens a watch on the pods labelled weft-bench=ID, then creates N such
      pods at once (10 connections in parallel) and waits until every one is
      Running. Writes the phase's figures as JSON: time from the first create
      to the last pod Running, each pod's create → Running, and the CNI ADD
      latencies of NAME that the timing shim logged after the first create.

  driver.py report [--kubelet-api-qps N] --json FILE PHASE.json...
      Puts the phases together (rounds of one bridge and one weft phase),
      prints the table with the weft/bridge ratios and writes it all as JSON.

The timing shim logs one line per CNI call it wraps:
  PLUGIN COMMAND CONTAINER_ID START END EXIT_STATUS
with START and END in seconds since the epoch (bash's EPOCHREALTIME), the
same clock as time.time() here.
"""

import argparse
import http.client
import json
import math
import os
import ssl
import statistics
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

# The target: weft within this factor of the bridge plugin.
TARGET_RATIO = 1.5


def die(msg):
    print(f"driver: {msg}", file=sys.stderr)
    sys.exit(1)


def nearest_rank(values, percent):
    """The smallest value with at least percent % of the values at or below
    it (as bench/src/stats.rs computes it)."""
    s = sorted(values)
    rank = max(1, math.ceil(len(s) * percent / 100))
    return s[rank - 1]


def summary_ms(seconds):
    if not seconds:
        return None
    ms = [v * 1000.0 for v in seconds]
    return {
        "count": len(ms),
        "min": min(ms),
        "p50": nearest_rank(ms, 50),
        "p90": nearest_rank(ms, 90),
        "p99": nearest_rank(ms, 99),
        "max": max(ms),
        "mean": statistics.fmean(ms),
    }


class Api:
    """Just enough of the Kubernetes API, with the admin's client certificate."""

    def __init__(self, server, ca, cert, key):
        url = urllib.parse.urlsplit(server)
        if url.scheme != "https" or not url.hostname:
            die(f"--server '{server}' is not an https:// URL")
        self.host, self.port = url.hostname, url.port or 443
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.load_cert_chain(cert, key)

    def connect(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, conn, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {payload[:300]!r}")
        return json.loads(payload)


def pod_manifest(name, run_id, image):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"weft-bench": run_id}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            # No token volume: the pods differ only in their network.
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "containers": [
                {
                    "name": "c",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["tail", "-f", "/dev/null"],
                }
            ],
        },
    }


def watch_running(api, selector, resource_version, names, running, failed, done, stop):
    """Records when each pod of `names` is first seen Running (time.time()).
    Sets `done` once all are, or on a watch error (in `failed`)."""
    path = (
        "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=3600"
        f"&labelSelector={urllib.parse.quote(selector)}&resourceVersion={resource_version}"
    )
    conn = api.connect(timeout=None)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            failed.append(f"watch: HTTP {resp.status}: {resp.read()[:300]!r}")
            return
        while not stop.is_set():
            line = resp.readline()
            if not line:
                failed.append("watch: the apiserver closed the stream")
                return
            now = time.time()
            event = json.loads(line)
            if event.get("type") == "ERROR":
                failed.append(f"watch: {event.get('object')}")
                return
            pod = event.get("object", {})
            name = pod.get("metadata", {}).get("name")
            phase = pod.get("status", {}).get("phase")
            if name in names and name not in running:
                if phase == "Running":
                    running[name] = now
                elif phase == "Failed":
                    failed.append(f"pod {name} Failed: {pod.get('status')}")
                    return
            if len(running) == len(names):
                return
    except Exception as e:  # noqa: BLE001 -- reported, and the burst fails
        failed.append(f"watch: {e}")
    finally:
        done.set()
        conn.close()


def read_cni_log(path, plugin, since):
    """The shim's records of `plugin` that started at or after `since`."""
    records = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if len(parts) != 6:
                    die(f"{path}:{n}: not 'PLUGIN COMMAND ID START END STATUS': {line!r}")
                name, cmd, cid, start, end, rc = parts
                if name != plugin:
                    continue
                start, end = float(start.replace(",", ".")), float(end.replace(",", "."))
                if start >= since:
                    records.append({"command": cmd, "id": cid, "start": start, "end": end, "rc": int(rc)})
    except FileNotFoundError:
        pass
    return records


def status_kib(pid, key):
    """A kB field of /proc/PID/status."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        die(f"process {pid} (weft) is gone")
    die(f"no {key} in /proc/{pid}/status")


def cmd_burst(a):
    if a.pods < 1:
        die(f"--pods must be at least 1, not {a.pods}")
    api = Api(a.server, a.ca, a.cert, a.key)
    selector = f"weft-bench={a.run_id}"
    conn = api.connect()
    listed = api.request(conn, "GET", f"/api/v1/namespaces/default/pods?labelSelector={urllib.parse.quote(selector)}")
    if listed.get("items"):
        die(f"pods labelled {selector} already exist")
    rv = listed["metadata"]["resourceVersion"]
    names = {f"{a.run_id}-{i:03d}" for i in range(a.pods)}
    running, failed = {}, []
    done, stop = threading.Event(), threading.Event()
    watcher = threading.Thread(
        target=watch_running, args=(api, selector, rv, names, running, failed, done, stop), daemon=True
    )
    watcher.start()
    # The watch is open once its request is sent; a short pause makes sure.
    time.sleep(0.5)

    local = threading.local()

    def create(name):
        if not hasattr(local, "conn"):
            local.conn = api.connect()
        api.request(local.conn, "POST", "/api/v1/namespaces/default/pods", pod_manifest(name, a.run_id, a.image))
        return name, time.time()

    t0 = time.time()
    with ThreadPoolExecutor(max_workers=min(10, a.pods)) as pool:
        created = dict(pool.map(create, sorted(names)))
    t_created = time.time()
    done.wait(a.timeout - (time.time() - t0))
    stop.set()
    if failed:
        die("; ".join(failed))
    if len(running) != len(names):
        missing = sorted(names - running.keys())
        die(f"{len(missing)} of {len(names)} pods not Running after {a.timeout} s (e.g. {missing[:3]})")
    t_all = max(running.values())

    # The last ADD has ended before its pod can run; the shim's line is
    # written right after, so a short wait covers the write.
    adds = []
    for _ in range(50):
        adds = [r for r in read_cni_log(a.cni_log, a.plugin, t0) if r["command"] == "ADD"]
        if sum(r["rc"] == 0 for r in adds) >= len(names):
            break
        time.sleep(0.1)
    ok = [r for r in adds if r["rc"] == 0]
    if len(ok) < len(names):
        die(f"the shim logged {len(ok)} successful {a.plugin} ADDs for {len(names)} pods in {a.cni_log}")
    result = {
        "plugin": a.plugin,
        "pods": a.pods,
        "run_id": a.run_id,
        "create_seconds": t_created - t0,
        "all_running_seconds": t_all - t0,
        "pod_running_ms": summary_ms([running[n] - created[n] for n in names]),
        "cni_add_ms": summary_ms([r["end"] - r["start"] for r in ok]),
        "cni_add_failed": len(adds) - len(ok),
        "cni_add_span_seconds": max(r["end"] for r in ok) - min(r["start"] for r in ok),
        "first_add_after_create_ms": (min(r["start"] for r in ok) - t0) * 1000.0,
        "container_ids": sorted(r["id"] for r in ok),
    }
    if a.server_pid and a.agent_pid:
        result["rss"] = {
            f"{who}_{field}_mib": status_kib(pid, key) / 1024.0
            for who, pid in (("server", a.server_pid), ("agent", a.agent_pid))
            for field, key in (("rss", "VmRSS"), ("hwm", "VmHWM"))
        }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print(
        f"{a.plugin}: {a.pods} pods Running after {result['all_running_seconds']:.2f} s; "
        f"CNI ADD p50 {result['cni_add_ms']['p50']:.1f} ms, p99 {result['cni_add_ms']['p99']:.1f} ms"
        + (f" ({result['cni_add_failed']} failed ADDs retried)" if result["cni_add_failed"] else "")
    )


def ratio(w, b):
    return w / b if b else float("inf")


def cmd_report(a):
    phases = []
    for path in a.phases:
        with open(path) as f:
            phases.append(json.load(f))
    rounds = []
    for p in phases:
        if p["plugin"] == "bridge":
            rounds.append({"bridge": p})
        elif p["plugin"] == "weft-cni":
            if not rounds or "weft" in rounds[-1]:
                die(f"{p['run_id']}: a weft phase without a bridge phase before it")
            rounds[-1]["weft"] = p
        else:
            die(f"{p['run_id']}: unknown plugin '{p['plugin']}'")
    rounds = [r for r in rounds if "weft" in r]
    if not rounds:
        die("no complete round (bridge then weft)")
    metrics = [
        ("all_running_s", "time to all Running (s)", lambda p: p["all_running_seconds"]),
        ("pod_running_p50_ms", "pod create → Running p50 (ms)", lambda p: p["pod_running_ms"]["p50"]),
        ("cni_add_p50_ms", "CNI ADD p50 (ms)", lambda p: p["cni_add_ms"]["p50"]),
        ("cni_add_p99_ms", "CNI ADD p99 (ms)", lambda p: p["cni_add_ms"]["p99"]),
    ]
    table = {}
    for key, _, get in metrics:
        b = statistics.median(get(r["bridge"]) for r in rounds)
        w = statistics.median(get(r["weft"]) for r in rounds)
        table[key] = {"bridge": b, "weft": w, "ratio": ratio(w, b), "per_round": [
            {"bridge": get(r["bridge"]), "weft": get(r["weft"]), "ratio": ratio(get(r["weft"]), get(r["bridge"]))}
            for r in rounds
        ]}
    rss = [r["weft"].get("rss") for r in rounds if r["weft"].get("rss")]
    judged = ["all_running_s", "cni_add_p50_ms", "cni_add_p99_ms"]
    met = all(table[k]["ratio"] <= TARGET_RATIO for k in judged)
    out = {
        "pods": rounds[0]["bridge"]["pods"],
        "rounds": len(rounds),
        "cpus": os.cpu_count(),
        "kubelet_api_qps": a.kubelet_api_qps,
        "metrics": table,
        "target": {"max_ratio": TARGET_RATIO, "judged": judged, "met": met},
        "weft_rss": rss,
        "phases": phases,
    }
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)

    n = out["pods"]
    print(f"\nweft pods: {n} pods created at once on one worker, weft-cni + weft agent/server "
          f"against Debian's bridge + host-local, {len(rounds)} round(s), {out['cpus']} CPUs"
          + (f", kubelet API QPS {a.kubelet_api_qps}" if a.kubelet_api_qps else ""))
    print(f"{'':32} {'bridge':>10} {'weft':>10} {'weft/bridge':>12}")
    for key, label, _ in metrics:
        t = table[key]
        print(f"{label:32} {t['bridge']:>10.2f} {t['weft']:>10.2f} {t['ratio']:>12.2f}")
    if len(rounds) > 1:
        print("(medians over the rounds; per round in the JSON)")
    for i, r in enumerate(rounds, 1):
        s = r["weft"].get("rss")
        if s:
            print(f"round {i}: weft server RSS {s['server_rss_mib']:.1f} MiB (HWM {s['server_hwm_mib']:.1f}), "
                  f"weft agent RSS {s['agent_rss_mib']:.1f} MiB (HWM {s['agent_hwm_mib']:.1f}) with {n} pods")
        fails = r["bridge"]["cni_add_failed"] + r["weft"]["cni_add_failed"]
        if fails:
            print(f"round {i}: failed CNI ADDs (retried by the kubelet): bridge "
                  f"{r['bridge']['cni_add_failed']}, weft {r['weft']['cni_add_failed']}")
    print("time to all Running: first create sent → last pod seen Running on a watch; "
          "CNI ADD: the plugin's run as containerd executes it, timed by the same shim for both.")
    print(f"issue target: weft within {TARGET_RATIO}× of bridge (time to all Running, ADD p50 and p99): "
          f"{'MET' if met else 'NOT MET'}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("burst")
    for opt in ("--server", "--ca", "--cert", "--key", "--cni-log", "--plugin", "--run-id", "--image", "--out"):
        b.add_argument(opt, required=True)
    b.add_argument("--pods", type=int, default=50)
    b.add_argument("--timeout", type=float, default=300)
    b.add_argument("--server-pid", type=int, help="weft server: its RSS once all pods run")
    b.add_argument("--agent-pid", type=int, help="weft agent: its RSS once all pods run")
    r = sub.add_parser("report")
    r.add_argument("--json", required=True)
    r.add_argument("--kubelet-api-qps", type=int, help="as the cluster was set up (reported)")
    r.add_argument("phases", nargs="+")
    a = p.parse_args()
    if a.cmd == "burst":
        cmd_burst(a)
    else:
        cmd_report(a)


if __name__ == "__main__":
    main()
