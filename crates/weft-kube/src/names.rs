//! How Kubernetes objects are named in weft (TF kube-manager's scheme, so
//! manifests and habits carry over): namespace `ns` of cluster `k8s` is
//! project `default-domain:k8s-ns`; the cluster's own objects live in
//! project `default-domain:k8s-default`.

use ipnet::IpNet;
use weft_types::FqName;

/// The domain every cluster project is made in.
pub const DOMAIN: &str = "default-domain";

/// `device_owner` of pods' ports (the CNI side makes the same ports).
pub const POD_DEVICE_OWNER: &str = "k8s:pod";

/// `device_owner` of the ports holding Services' ClusterIPs.
pub const SERVICE_DEVICE_OWNER: &str = "k8s:service";

/// Tag put on every object kube-manager makes, so it only ever removes its own.
pub const TAG: &str = "k8s";

/// A cluster's name and address plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The cluster's name in weft (`k8s` by default).
    pub name: String,
    /// Subnet of the default pod network (TF's default 10.32.0.0/12).
    pub pod_cidr: IpNet,
    /// Subnet of the service network (TF's default 10.96.0.0/12).
    pub service_cidr: IpNet,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig::named("k8s")
    }
}

fn fq(components: &[&str]) -> FqName {
    // Every component is checked by `ClusterConfig::check` and by the
    // namespace/name rules of Kubernetes (DNS labels: no ':').
    match FqName::from_components(components.iter().copied()) {
        Ok(name) => name,
        Err(e) => panic!("a name made of checked parts was refused: {e}"),
    }
}

impl ClusterConfig {
    /// A cluster with the default address plan.
    pub fn named(name: &str) -> Self {
        ClusterConfig {
            name: name.to_owned(),
            pod_cidr: "10.32.0.0/12".parse().expect("constant"),
            service_cidr: "10.96.0.0/12".parse().expect("constant"),
        }
    }

    /// Refuses a cluster name weft cannot put into a name.
    pub fn check(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.contains(':') || self.name.contains('/') {
            return Err(format!(
                "cluster name {:?}: must be non-empty without ':' or '/'",
                self.name
            ));
        }
        if self.pod_cidr.contains(&self.service_cidr) || self.service_cidr.contains(&self.pod_cidr)
        {
            return Err(format!(
                "pod CIDR {} and service CIDR {} overlap",
                self.pod_cidr, self.service_cidr
            ));
        }
        Ok(())
    }

    /// `default-domain:<cluster>-default`, home of the cluster's networks.
    pub fn default_project(&self) -> FqName {
        fq(&[DOMAIN, &format!("{}-default", self.name)])
    }

    /// `default-domain:<cluster>-default:<cluster>-default-pod-network`.
    pub fn pod_network(&self) -> FqName {
        let project = format!("{}-default", self.name);
        fq(&[
            DOMAIN,
            &project,
            &format!("{}-default-pod-network", self.name),
        ])
    }

    /// `default-domain:<cluster>-default:<cluster>-default-service-network`.
    pub fn service_network(&self) -> FqName {
        let project = format!("{}-default", self.name);
        fq(&[
            DOMAIN,
            &project,
            &format!("{}-default-service-network", self.name),
        ])
    }

    /// `default-domain:<cluster>-<namespace>`.
    pub fn project_of(&self, namespace: &str) -> FqName {
        fq(&[DOMAIN, &format!("{}-{namespace}", self.name)])
    }

    /// The namespace a project stands for, if it is one of this cluster's
    /// namespace projects. Namespace `default` maps to the project that also
    /// holds the cluster's networks, as in TF.
    pub fn namespace_of(&self, project: &FqName) -> Option<String> {
        match project.components() {
            [domain, name] if domain == DOMAIN => name
                .strip_prefix(&format!("{}-", self.name))
                .filter(|ns| !ns.is_empty())
                .map(str::to_owned),
            _ => None,
        }
    }

    /// A group in a namespace's project.
    pub fn group_in(&self, namespace: &str, name: &str) -> FqName {
        fq(&[DOMAIN, &format!("{}-{namespace}", self.name), name])
    }

    /// The cluster-wide group admitting all ingress, given to pods that no
    /// policy isolates for ingress while one isolates them for egress.
    pub fn allow_ingress_group(&self) -> FqName {
        let project = format!("{}-default", self.name);
        fq(&[
            DOMAIN,
            &project,
            &format!("{}-allow-all-ingress", self.name),
        ])
    }

    /// The cluster-wide group admitting all egress (see [`Self::allow_ingress_group`]).
    pub fn allow_egress_group(&self) -> FqName {
        let project = format!("{}-default", self.name);
        fq(&[DOMAIN, &project, &format!("{}-allow-all-egress", self.name)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_tf_kube_manager() {
        let c = ClusterConfig::default();
        assert_eq!(
            c.default_project().to_string(),
            "default-domain:k8s-default"
        );
        assert_eq!(
            c.pod_network().to_string(),
            "default-domain:k8s-default:k8s-default-pod-network"
        );
        assert_eq!(
            c.service_network().to_string(),
            "default-domain:k8s-default:k8s-default-service-network"
        );
        assert_eq!(
            c.project_of("seamless").to_string(),
            "default-domain:k8s-seamless"
        );
        assert_eq!(
            c.namespace_of(&c.project_of("kube-system")).as_deref(),
            Some("kube-system")
        );
        assert_eq!(
            c.namespace_of(&"default-domain:admin".parse().expect("fq")),
            None
        );
        assert_eq!(c.pod_cidr.to_string(), "10.32.0.0/12");
        assert_eq!(c.service_cidr.to_string(), "10.96.0.0/12");
    }

    #[test]
    fn bad_cluster_config_is_refused() {
        assert!(ClusterConfig::named("a:b").check().is_err());
        let mut c = ClusterConfig::named("x");
        c.service_cidr = "10.32.0.0/16".parse().expect("cidr");
        let e = c.check().expect_err("overlap");
        assert!(e.contains("overlap"), "{e}");
    }
}
