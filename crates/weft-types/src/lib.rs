//! Identifiers and value types shared by every layer of weft.
//!
//! Nothing here does I/O. Every type parses from and prints to the text form
//! an operator types (`default-domain:k8s-contrail:seamless`,
//! `fa:16:3e:00:00:01`, `192.168.1.0/24`, `target:64512:8000001`), and a
//! parse failure says which rule the input broke.

mod fq_name;
mod mac;
mod prefix;
mod routing;

pub use fq_name::{DEFAULT_DOMAIN, FqName, FqNameError};
pub use mac::{MacAddr, MacAddrError};
pub use prefix::{Prefix, PrefixError};
pub use routing::{Asn, MplsLabel, RouteDistinguisher, RouteTarget, RoutingValueError, Vni};
