//! A CNI result in the shape each version wants.
//!
//! 0.3.x and 0.4.0 give every IP a `"version"` ("4"/"6"); 1.0.0 dropped it;
//! 1.1.0 may carry an interface's `mtu`.

use serde_json::{Value, json};
use weft_api::cni::CniAttachment;

use crate::config::Version;

/// The result of `attachment` for `cni_version`.
pub fn render(attachment: &CniAttachment, cni_version: &str, version: Version) -> Value {
    let interfaces: Vec<Value> = attachment
        .interfaces
        .iter()
        .map(|i| {
            let mut o = json!({ "name": i.name });
            if !i.mac.is_empty() {
                o["mac"] = json!(i.mac);
            }
            if let Some(sandbox) = &i.sandbox {
                o["sandbox"] = json!(sandbox);
            }
            if version >= Version::V1_1_0
                && let Some(mtu) = i.mtu
            {
                o["mtu"] = json!(mtu);
            }
            o
        })
        .collect();
    let ips: Vec<Value> = attachment
        .ips
        .iter()
        .map(|ip| {
            let mut o = json!({ "address": ip.address, "interface": ip.interface });
            if let Some(gw) = &ip.gateway {
                o["gateway"] = json!(gw);
            }
            if version < Version::V1_0_0 {
                o["version"] = json!(if ip.address.contains(':') { "6" } else { "4" });
            }
            o
        })
        .collect();
    let routes: Vec<Value> = attachment
        .routes
        .iter()
        .map(|r| match &r.gw {
            Some(gw) => json!({ "dst": r.dst, "gw": gw }),
            None => json!({ "dst": r.dst }),
        })
        .collect();
    let mut result = json!({
        "cniVersion": cni_version,
        "interfaces": interfaces,
        "ips": ips,
        "routes": routes,
    });
    let dns = serde_json::to_value(&attachment.dns).unwrap_or(Value::Null);
    if dns.as_object().is_some_and(|o| !o.is_empty()) {
        result["dns"] = dns;
    }
    result
}

/// The addresses of a result (any version), for CHECK's comparison with
/// `prevResult`.
pub fn addresses(result: &Value) -> Vec<String> {
    let mut out: Vec<String> = result
        .get("ips")
        .and_then(Value::as_array)
        .map(|ips| {
            ips.iter()
                .filter_map(|ip| ip.get("address")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::cni::{CniDns, CniInterface, CniIp, CniRoute};

    fn attachment() -> CniAttachment {
        CniAttachment {
            interfaces: vec![
                CniInterface {
                    name: "vethabc".into(),
                    mac: String::new(),
                    sandbox: None,
                    mtu: Some(1450),
                },
                CniInterface {
                    name: "eth0".into(),
                    mac: "02:00:00:00:00:01".into(),
                    sandbox: Some("/run/netns/x".into()),
                    mtu: Some(1450),
                },
            ],
            ips: vec![CniIp {
                address: "10.32.0.3/24".into(),
                gateway: Some("10.32.0.1".into()),
                interface: 1,
            }],
            routes: vec![CniRoute {
                dst: "0.0.0.0/0".into(),
                gw: Some("10.32.0.1".into()),
            }],
            dns: CniDns {
                nameservers: vec!["10.32.0.2".into()],
                ..CniDns::default()
            },
            port_id: "p".into(),
        }
    }

    #[test]
    fn old_results_carry_ip_versions_new_ones_do_not() {
        let old = render(&attachment(), "0.3.1", Version(0, 3, 1));
        assert_eq!(old["cniVersion"], "0.3.1");
        assert_eq!(old["ips"][0]["version"], "4");
        assert_eq!(old["ips"][0]["interface"], 1);
        assert!(old["interfaces"][1].get("mtu").is_none());
        let v1 = render(&attachment(), "1.0.0", Version::V1_0_0);
        assert!(v1["ips"][0].get("version").is_none());
        assert_eq!(v1["interfaces"][1]["sandbox"], "/run/netns/x");
        assert_eq!(v1["dns"]["nameservers"][0], "10.32.0.2");
        let v11 = render(&attachment(), "1.1.0", Version::V1_1_0);
        assert_eq!(v11["interfaces"][1]["mtu"], 1450);
        assert_eq!(addresses(&v11), vec!["10.32.0.3/24"]);
    }
}
